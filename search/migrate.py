"""Schema migrations of the unversioned indices (models, deletions, consents).

Versioned indices are rebuilt by every pipeline run; these are not, so when their mapping changes
their documents are copied into a new concrete index. Each mapping file records its version in
`_meta.schema_version` (none recorded: version 1), and a live index whose mapping says an older
version is migrated:

- version 1: a concrete index named like the alias (`movierec-consents`), times in epoch seconds.
- version 2: an alias over `<alias>-v2`, every time the API stamps (`updated_at`, a deletion's
  `date`) in epoch milliseconds, as Elasticsearch stores dates.

The build this runs on has no `_reindex`, so the copy is a scroll plus bulk requests. The old index is
write-blocked during the copy (a write in that window fails rather than being lost), and one
`_aliases` call points the alias at the new index and deletes the old one, so a reader sees the old
index or the new one, never nothing. Running it again, or in two processes at once (two API
workers starting), is safe: copies only create documents the new index lacks, and whoever swaps
second finds the work done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from movierec.errors import Failed
from movierec.search.domain import seconds_to_ms
from movierec.search.indices import SHARED_KINDS, IndexNames, load_mapping, schema_version, shared_index

log = logging.getLogger(__name__)

# Fields in epoch seconds before schema version 2, per kind (the models index has only ISO dates).
SECONDS_BEFORE_V2 = {"consents": ("updated_at",), "deletions": ("date",), "models": (), "added_movies": ()}
ALREADY_MS = 100_000_000_000
SCROLL_PAGE = 1000


class MigrationFailed(Failed):
    """A copy was incomplete: the alias still points at the old index, which takes writes again."""


@dataclass(frozen=True)
class Migration:
    kind: str
    source: str
    target: str
    from_version: int
    to_version: int
    documents: int


def upgrade_document(kind: str, source: dict, from_version: int) -> dict:
    """A document of `kind` written under schema `from_version`, as the current schema wants it."""
    doc = dict(source)
    if from_version < 2:
        for field in SECONDS_BEFORE_V2[kind]:
            value = doc.get(field)
            # A number this large is milliseconds already (written by a newer API into the old index):
            # in seconds it would be after the year 5138, in milliseconds it is after 1973.
            if isinstance(value, int | float) and value < ALREADY_MS:
                doc[field] = seconds_to_ms(value)
    return doc


def _behind(es: Elasticsearch, name: str) -> tuple[str, int] | None:
    """(the concrete index behind `name`, its schema version), or None when there is nothing."""
    try:
        mappings = es.indices.get_mapping(index=name)
    except NotFoundError:
        return None
    if len(mappings) != 1:
        raise MigrationFailed(f"{name} resolves to {len(mappings)} indices ({', '.join(mappings)}); expected one")
    [(index, body)] = mappings.items()
    return index, schema_version(body["mappings"])


def migrate_shared_indices(es: Elasticsearch, names: IndexNames) -> list[Migration]:
    """Bring every unversioned index to its current schema; returns what was migrated (none: all current)."""
    return [done for kind in SHARED_KINDS if (done := migrate_index(es, names, kind))]


def migrate_index(es: Elasticsearch, names: IndexNames, kind: str) -> Migration | None:
    alias, target = names.alias(kind), shared_index(names, kind)
    current = schema_version(load_mapping(kind)["mappings"])
    found = _behind(es, alias)
    if found is None or found[1] >= current:
        return None
    source, version = found
    try:
        copied = _copy(es, kind, source, target, version)
        _switch(es, alias, source, target)
    except (NotFoundError, BadRequestError):
        # Another process (a second API worker) finished the same migration first.
        after = _behind(es, alias)
        if after is not None and after[1] >= current:
            log.info("%s was migrated by another process meanwhile", alias)
            return None
        raise
    except MigrationFailed:
        es.options(ignore_status=404).indices.put_settings(index=source, settings={"index.blocks.write": False})
        raise
    log.warning("migrated %s: %d documents from %s (schema %d) into %s", alias, copied, source, version, target)
    return Migration(kind, source, target, version, current, copied)


def _copy(es: Elasticsearch, kind: str, source: str, target: str, version: int) -> int:
    es.indices.put_settings(index=source, settings={"index.blocks.write": True})
    es.options(ignore_status=400).indices.create(index=target, **load_mapping(kind))  # 400: it exists already
    hits = helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=SCROLL_PAGE)
    actions = (
        # `create`: a document the target already holds (a second run, a second process) is left alone.
        {
            "_op_type": "create",
            "_index": target,
            "_id": hit["_id"],
            "_source": upgrade_document(kind, hit["_source"], version),
        }
        for hit in hits
    )
    _, errors = helpers.bulk(es, actions, raise_on_error=False, refresh=True)
    failed = [e for e in errors if next(iter(e.values())).get("status") != 409]
    if failed:
        raise MigrationFailed(f"{len(failed)} documents of {source} could not be copied into {target}: {failed[:2]}")
    copied, expected = es.count(index=target)["count"], es.count(index=source)["count"]
    if copied < expected:
        raise MigrationFailed(f"{target} holds {copied} documents, {source} {expected}: alias not switched")
    return copied


def _switch(es: Elasticsearch, alias: str, source: str, target: str) -> None:
    if source == alias:  # schema 1: a concrete index under the alias's name becomes the alias, in one call
        actions = [{"add": {"index": target, "alias": alias}}, {"remove_index": {"index": source}}]
    else:  # an alias over an older concrete index
        actions = [{"add": {"index": target, "alias": alias}}, {"remove": {"index": source, "alias": alias}}]
    es.indices.update_aliases(actions=actions)
    if source != alias:
        es.indices.delete(index=source)


# Fields added to a versioned mapping after versions were written with it. The mappings are strict, so
# the API's writes to an older version (a rating's fold-in writes `rated_movie_ids`) would be refused:
# the fields are added in place at start-up (adding a field is allowed on a live index). Documents
# written before keep lacking the value until the user's next rating or the next pipeline run.
ADDED_FIELDS = {"users": ("rated_movie_ids",)}


def add_missing_fields(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Add ADDED_FIELDS to every kept version that lacks them; returns the indices changed."""
    changed = []
    for kind, fields in ADDED_FIELDS.items():
        wanted = load_mapping(kind)["mappings"]["properties"]
        found = es.indices.get_mapping(index=names.concrete(kind, "*"), expand_wildcards="open", allow_no_indices=True)
        for index, body in sorted(found.items()):
            have = body["mappings"].get("properties", {})
            missing = {field: wanted[field] for field in fields if field not in have}
            if missing:
                es.indices.put_mapping(index=index, properties=missing)
                changed.append(index)
    return changed
