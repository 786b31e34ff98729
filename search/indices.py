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


def load_mapping(kind: str, *, dims: int | None = None) -> dict:
    """The index body from `mappings/<kind>.json`, with vector dims set to the model's rank."""
    body = resources.mapping(kind)
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
    return {**load_mapping(kind), "aliases": {names.alias(kind): {}}}


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
        body = load_mapping(kind, dims=dims)
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


def publish(es: Elasticsearch, names: IndexNames, version: str, expected: dict[str, int]) -> list[str]:
    """Verify, switch every alias at once, prune old versions; returns the pruned versions."""
    verify_counts(es, names, version, expected)
    switch_to(es, names, version)
    return prune(es, names, keep=KEEP_VERSIONS)


def prune(es: Elasticsearch, names: IndexNames, *, keep: int = KEEP_VERSIONS) -> list[str]:
    serving = serving_version(es, names)
    all_versions = versions(es, names)
    keep_set = set(all_versions[-keep:]) | {serving}
    dropped = [v for v in all_versions if v not in keep_set]
    for version in dropped:
        drop_version(es, names, version)
    return dropped


def drop_version(es: Elasticsearch, names: IndexNames, version: str) -> None:
    for kind in VERSIONED_KINDS:
        es.indices.delete(index=names.concrete(kind, version), ignore_unavailable=True)


def rollback(es: Elasticsearch, names: IndexNames) -> str:
    """Serve the version before the current one."""
    current = serving_version(es, names)
    older = [v for v in versions(es, names) if current is None or v < current]
    if not older:
        kept = f"no version older than {current}" if current else "no version"
        raise NoSuchVersion(f"{kept} is kept under {names.prefix}*: nothing to roll back to")
    switch_to(es, names, older[-1])
    return older[-1]


def status(es: Elasticsearch, names: IndexNames) -> list[dict]:
    serving = serving_version(es, names)
    rows = []
    for version in versions(es, names):
        counts = {kind: es.count(index=names.concrete(kind, version))["count"] for kind in VERSIONED_KINDS}
        rows.append({"version": version, "serving": version == serving, **counts})
    return rows
