"""Index lifecycle: versioned concrete indices behind aliases, switched atomically.

A load writes `movierec-movies-<version>` etc.; `publish` checks the counts and moves every alias
in one `_aliases` call, so readers see the old version or the new one, never a mix.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch, NotFoundError

from movierec import resources
from movierec.errors import Failed, NotFound

log = logging.getLogger(__name__)

VERSIONED_KINDS = ("movies", "users", "ratings")
SHARED_KINDS = ("models", "deletions", "consents", "added_movies")  # unversioned: one alias each, kept across versions
VECTOR_FIELDS = {"movies": ("item_vector", "audience_vector"), "users": ("user_vector",)}
KEEP_VERSIONS = 2  # the serving one and the one before it, for rollback
WRITE_ATTEMPTS = 8  # conditional writes that lost a race: read again and retry this many times


class IndexLoadError(Failed):
    """A load was incomplete; the aliases were not switched."""


class NoSuchVersion(NotFound):
    pass


@dataclass(frozen=True)
class IndexNames:
    prefix: str
    # MOVIEREC_REPLICAS: "auto" (0 on one data node, 1 on more) or a fixed count; see replica_settings.
    replicas: str = "auto"

    def alias(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def concrete(self, kind: str, version: str) -> str:
        return f"{self.prefix}{kind}-{version}"

    @property
    def movies(self) -> str:
        return self.alias("movies")

    @property
    def users(self) -> str:
        return self.alias("users")

    @property
    def ratings(self) -> str:
        return self.alias("ratings")

    @property
    def models(self) -> str:
        return self.alias("models")

    @property
    def consents(self) -> str:
        """Consent to personalisation per user; not versioned, like deletions."""
        return self.alias("consents")

    @property
    def deletions(self) -> str:
        """Ratings deleted through the API; not versioned, so every retrain can honour them."""
        return self.alias("deletions")


def replica_settings(replicas: str = "auto") -> dict:
    """Index settings for MOVIEREC_REPLICAS: "auto", or a fixed number of replicas per shard.

    "auto" is `auto_expand_replicas: 0-1`: Elasticsearch itself keeps 0 replicas on one data node
    (where a replica could never be placed and would leave the index yellow) and 1 as soon as there
    are two or more, so an index follows the cluster it lives on, also when nodes join later. With
    one replica every acknowledged write is on two nodes, so it survives the loss of any one."""
    text = str(replicas).strip().lower()
    if text == "auto":
        return {"auto_expand_replicas": "0-1"}
    if not text.isdigit() or int(text) > 9:
        raise ValueError(f"MOVIEREC_REPLICAS={replicas!r}: use auto or a number of replicas 0..9")
    return {"auto_expand_replicas": "false", "number_of_replicas": int(text)}


def load_mapping(kind: str, *, dims: int | None = None, replicas: str = "auto") -> dict:
    """The index body from `mappings/<kind>.json`, with vector dims set to the model's rank and the
    replicas MOVIEREC_REPLICAS asks for (every index movierec creates comes from here)."""
    body = resources.mapping(kind)
    settings = body.setdefault("settings", {})
    for key in ("auto_expand_replicas", "number_of_replicas"):
        settings.pop(key, None)
    settings.update(replica_settings(replicas))
    if dims is not None:
        for field in VECTOR_FIELDS.get(kind, ()):
            body["mappings"]["properties"][field]["dims"] = dims
    return body


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"v{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def schema_version(mappings: Mapping[str, Any]) -> int:
    """`_meta.schema_version` of a mapping (a file's or a live index's); 1 when none is recorded."""
    return int(mappings.get("_meta", {}).get("schema_version", 1))


def shared_index(names: IndexNames, kind: str) -> str:
    """The concrete index behind an unversioned alias at the current schema: `movierec-consents-v2`."""
    return f"{names.alias(kind)}-v{schema_version(load_mapping(kind)['mappings'])}"


def _shared_index_body(names: IndexNames, kind: str) -> dict:
    return {**load_mapping(kind, replicas=names.replicas), "aliases": {names.alias(kind): {}}}


def ensure_shared_indices(es: Elasticsearch, names: IndexNames) -> None:
    """The unversioned indices (model cards, the API's deletions, consents), each an alias over its
    current-schema index. Older ones are brought up to date by search/migrate.py, not here."""
    for kind in SHARED_KINDS:
        if not es.indices.exists(index=names.alias(kind)):
            es.options(ignore_status=400).indices.create(
                index=shared_index(names, kind), **_shared_index_body(names, kind)
            )


async def ensure_shared_index(es: AsyncElasticsearch, names: IndexNames, kind: str) -> None:
    # Normally created by the pipeline; a deployment indexed before this index existed gets it here,
    # with its mapping rather than the one Elasticsearch would guess from the first document. The
    # mapping is read (from the process's cache) only then, not on every request. 400: another writer
    # created it first.
    if not await es.indices.exists(index=names.alias(kind)):
        await es.options(ignore_status=400).indices.create(
            index=shared_index(names, kind), **_shared_index_body(names, kind)
        )


async def kind_indices(es: AsyncElasticsearch, names: IndexNames, kind: str) -> list[str]:
    """Every kept version's concrete index of `kind` (users, ratings), sorted."""
    pattern = names.concrete(kind, "*")
    return sorted(await es.indices.get(index=pattern, expand_wildcards="open", ignore_unavailable=True))


async def replace_if_unchanged(es: AsyncElasticsearch, seen: dict, document: dict) -> None:
    """Write `document` over `seen` (a get response) only if nobody wrote in between; ConflictError if so."""
    await es.index(
        index=seen["_index"],
        id=seen["_id"],
        document=document,
        if_seq_no=seen["_seq_no"],
        if_primary_term=seen["_primary_term"],
        refresh=True,
    )


def create_version(es: Elasticsearch, names: IndexNames, version: str, *, dims: int) -> dict[str, str]:
    created = {}
    for kind in VERSIONED_KINDS:
        body = load_mapping(kind, dims=dims, replicas=names.replicas)
        index = names.concrete(kind, version)
        # Bulk loads are faster without periodic refreshes; publish() refreshes once.
        body["settings"]["refresh_interval"] = "-1"
        es.indices.create(index=index, **body)
        created[kind] = index
    return created


def versions(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Versions that have every kind of index, oldest first."""
    found: dict[str, set[str]] = {}
    for kind in VERSIONED_KINDS:
        pattern = names.concrete(kind, "*")
        for index in es.indices.get(index=pattern, expand_wildcards="open", ignore_unavailable=True):
            found.setdefault(index.removeprefix(names.concrete(kind, "")), set()).add(kind)
    return sorted(v for v, kinds in found.items() if kinds == set(VERSIONED_KINDS))


def _version_behind(aliased: Mapping[str, object], names: IndexNames) -> str | None:
    """The version in the name of the index the movies alias points at (a get_alias answer)."""
    index = next(iter(aliased), None)
    return index.removeprefix(names.concrete("movies", "")) if index else None


def serving_version(es: Elasticsearch, names: IndexNames) -> str | None:
    """The version the aliases serve; None before the first load."""
    try:
        return _version_behind(es.indices.get_alias(name=names.movies), names)
    except NotFoundError:
        return None


async def serving_version_async(es: AsyncElasticsearch, names: IndexNames) -> str | None:
    """`serving_version` for the API's async client."""
    try:
        return _version_behind(await es.indices.get_alias(name=names.movies), names)
    except NotFoundError:
        return None


def verify_counts(es: Elasticsearch, names: IndexNames, version: str, expected: dict[str, int]) -> None:
    for kind in VERSIONED_KINDS:
        index = names.concrete(kind, version)
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s"}})
        es.indices.refresh(index=index)
        actual = es.count(index=index)["count"]
        if kind in expected and actual != expected[kind]:
            raise IndexLoadError(f"{index} holds {actual} documents, expected {expected[kind]}: aliases not switched")


def switch_to(es: Elasticsearch, names: IndexNames, version: str) -> None:
    actions = []
    for kind in VERSIONED_KINDS:
        alias = names.alias(kind)
        actions.append({"remove": {"index": names.concrete(kind, "*"), "alias": alias, "must_exist": False}})
        actions.append({"add": {"index": names.concrete(kind, version), "alias": alias}})
    es.indices.update_aliases(actions=actions)
    log.info("aliases %s* now point at version %s", names.prefix, version)


def health_verdict(health: Mapping[str, Any]) -> str | None:
    """None when a `_cluster/health?index=...` answer lets the aliases switch, else why not.

    Green: every copy is allocated. Yellow only on a single data node, where a replica can never be
    placed (MOVIEREC_REPLICAS=1 there); on more nodes yellow means a replica is still recovering,
    and switching then would serve an index that one lost node could take down."""
    status, data_nodes = health.get("status"), health.get("number_of_data_nodes", 0)
    if status == "green" or (status == "yellow" and data_nodes <= 1):
        return None
    return (
        f"status {status} on {data_nodes} data node(s), {health.get('unassigned_shards', '?')} unassigned and "
        f"{health.get('initializing_shards', '?')} initializing shard(s)"
    )


def wait_for_copies(es: Elasticsearch, index_list: list[str], *, timeout_s: float = 120.0) -> dict:
    """Wait until every shard copy of `index_list` is allocated (see health_verdict); IndexLoadError if not."""
    target = ",".join(index_list)
    one_node = es.cluster.health(index=target)["number_of_data_nodes"] <= 1
    health = es.options(ignore_status=408).cluster.health(  # 408: timed out, the body still says why
        index=target, wait_for_status="yellow" if one_node else "green", timeout=f"{timeout_s:.0f}s"
    )
    why = health_verdict(health.body)
    if why is not None:
        raise IndexLoadError(f"{target} not fully replicated after {timeout_s:.0f}s ({why}): aliases not switched")
    return health.body


def publish(
    es: Elasticsearch, names: IndexNames, version: str, expected: dict[str, int], card: dict | None = None
) -> list[str]:
    """Verify, wait for every copy, record the version as complete (its model card), switch every alias
    at once, prune old versions; returns the pruned versions. The card is written before the switch: a
    run killed right after it serves a version that is already known to be complete."""
    verify_counts(es, names, version, expected)
    wait_for_copies(es, [names.concrete(kind, version) for kind in VERSIONED_KINDS])
    mark_complete(es, names, version, card if card is not None else {"model_version": version})
    switch_to(es, names, version)
    return prune(es, names, keep=KEEP_VERSIONS)


def mark_complete(es: Elasticsearch, names: IndexNames, version: str, card: dict) -> None:
    """The model card with `complete: true`: this version's load finished and its counts were verified."""
    ensure_shared_indices(es, names)
    es.index(index=names.models, id=version, document={**card, "complete": True}, refresh=True)


def complete_versions(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Versions with every kind of index and a model card that marks them complete, oldest first.

    A card without the `complete` field predates it: cards were then written only after a verified
    load, so it counts as complete. A version without a card never finished its load."""
    candidates = versions(es, names)
    if not candidates or not es.indices.exists(index=names.models):
        return []
    docs = es.mget(index=names.models, ids=candidates, source_includes=["complete"])["docs"]
    return [v for v, d in zip(candidates, docs, strict=True) if d.get("found") and d["_source"].get("complete", True)]


def incomplete_versions(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Versions with some index under the prefix but no complete record (a killed or failed load),
    never the serving one; oldest first."""
    found = set()
    for kind in VERSIONED_KINDS:
        for index in es.indices.get(index=names.concrete(kind, "*"), expand_wildcards="all", ignore_unavailable=True):
            found.add(index.removeprefix(names.concrete(kind, "")))
    return sorted(found - set(complete_versions(es, names)) - {serving_version(es, names)})


def drop_incomplete(es: Elasticsearch, names: IndexNames, *, before: str | None = None) -> list[str]:
    """Delete the indices of incomplete versions older than `before` (this run's own version, so a
    version a run is writing right now is never touched by that run); returns them."""
    doomed = [v for v in incomplete_versions(es, names) if before is None or v < before]
    for version in doomed:
        drop_version(es, names, version)
        log.warning("deleted incomplete version %s (a run that did not finish)", version)
    return doomed


def prune(es: Elasticsearch, names: IndexNames, *, keep: int = KEEP_VERSIONS) -> list[str]:
    """Keep the serving version and the newest `keep` complete ones; incomplete versions do not count
    (a killed run's half-written version must not push out the last good one)."""
    serving = serving_version(es, names)
    complete = complete_versions(es, names)
    keep_set = set(complete[-keep:]) | {serving}
    dropped = [v for v in complete if v not in keep_set]
    for version in dropped:
        drop_version(es, names, version)
    return dropped


def drop_version(es: Elasticsearch, names: IndexNames, version: str) -> None:
    for kind in VERSIONED_KINDS:
        es.indices.delete(index=names.concrete(kind, version), ignore_unavailable=True)


def rollback(es: Elasticsearch, names: IndexNames) -> str:
    """Serve the version before the current one."""
    current = serving_version(es, names)
    older = [v for v in complete_versions(es, names) if current is None or v < current]
    if not older:
        kept = f"no version older than {current}" if current else "no version"
        raise NoSuchVersion(f"{kept} is kept complete under {names.prefix}*: nothing to roll back to")
    switch_to(es, names, older[-1])
    return older[-1]


def status(es: Elasticsearch, names: IndexNames) -> list[dict]:
    serving = serving_version(es, names)
    complete = set(complete_versions(es, names))
    rows = []
    for version in sorted(complete | set(incomplete_versions(es, names)) | ({serving} - {None})):
        counts = {}
        for kind in VERSIONED_KINDS:
            index = names.concrete(kind, version)
            counts[kind] = es.count(index=index)["count"] if es.indices.exists(index=index) else None
        rows.append({"version": version, "serving": version == serving, "complete": version in complete, **counts})
    return rows
