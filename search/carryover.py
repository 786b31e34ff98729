"""Ratings that arrived through the API outlive a retrain.

The MovieLens files do not hold them, so a pipeline run reads them from the serving version, trains on
them and indexes them (still marked `source: api`). Ratings that arrive while the run works land in
the old version; after the switch they are copied over and their users folded into the new model.
A rollback does the same in the other direction. Deletions made through the API are kept in an
unversioned index and applied to every version a run or a rollback brings in. The readers of the
unversioned indices migrate them to the current schema first (search/migrate.py), so the pipeline
and a rollback never read an older one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from elasticsearch import Elasticsearch, NotFoundError, helpers

from movierec.connection import EsConnection
from movierec.modelcard import ModelCard, card_from_document
from movierec.search import added_carryover, queries
from movierec.search.client import async_client
from movierec.search.domain import RatingSource, ms_to_seconds
from movierec.search.indices import IndexNames
from movierec.search.migrate import migrate_shared_indices
from movierec.search.ratings import rating_id, refold_user

log = logging.getLogger(__name__)

LIVE_FIELDS = ["user_id", "movie_id", "rating", "date", "genres", "title", "source"]


def _sources(es: Elasticsearch, index: str, query: dict, fields: list[str] | None = None) -> list[dict]:
    """Every matching document's source; none when the index does not exist."""
    if not es.indices.exists(index=index):
        return []
    # The API's write path does not refresh per write (search/writes.py): a rating given a moment ago must
    # still be carried over by the run or rollback that reads it now.
    es.indices.refresh(index=index)
    hits = helpers.scan(es, index=index, query={"query": query}, _source=fields if fields else True, size=2000)
    return [hit["_source"] for hit in hits]


def fetch_live_ratings(es: Elasticsearch, index: str, *, since: int | None = None) -> list[dict]:
    """Every API rating in `index` (alias or concrete name)."""
    return _sources(es, index, queries.live_ratings_query(since=since), LIVE_FIELDS)


def copy_newer(es: Elasticsearch, ratings: list[dict], index: str) -> list[int]:
    """Index these API ratings into `index` unless it holds a same-or-newer API rating for the pair.

    Returns the users whose ratings changed, sorted.
    """
    if not ratings:
        return []
    ids = [rating_id(r["user_id"], r["movie_id"]) for r in ratings]
    existing = es.mget(index=index, ids=ids, source_includes=["date", "source"])["docs"]
    actions, users = [], set()
    for doc_id, rating, found in zip(ids, ratings, existing, strict=True):
        held = found["_source"] if found.get("found") else None
        if held and held.get("source") == RatingSource.API and held.get("date", 0) >= rating["date"]:
            continue
        actions.append({"_index": index, "_id": doc_id, "_source": rating})
        users.add(int(rating["user_id"]))
    if actions:
        helpers.bulk(es, actions, refresh=True)
    log.info("copied %d of %d late API ratings into %s", len(actions), len(ratings), index)
    return sorted(users)


def latest_per_pair(ratings: list[dict]) -> list[dict]:
    """One rating per (user, movie): the latest (a user who rated both an added id and its file's id)."""
    best: dict[tuple[int, int], dict] = {}
    for r in ratings:
        pair = (int(r["user_id"]), int(r["movie_id"]))
        if pair not in best or r["date"] >= best[pair]["date"]:
            best[pair] = r
    return list(best.values())


def fetch_deletions(es: Elasticsearch, names: IndexNames, *, since: int | None = None) -> list[dict]:
    """Ratings deleted and users erased through the API (user_id, movie_id, date), optionally only those
    since `since` (epoch seconds). `date` comes back in epoch seconds, the unit of the rating dates it is
    compared with (the index stores milliseconds)."""
    migrate_shared_indices(es, names)  # a deployment from before schema 2 stored seconds: convert it first
    deletions = _sources(es, names.deletions, queries.deletions_query(since=since))
    return [{**d, "date": ms_to_seconds(d["date"])} for d in deletions]


def fetch_consents(es: Elasticsearch, names: IndexNames) -> list[dict]:
    """Every recorded consent choice (user_id, personalisation)."""
    migrate_shared_indices(es, names)
    return _sources(es, names.consents, queries.match_all(), ["user_id", "personalisation"])


def apply_deletions(es: Elasticsearch, deletions: list[dict], names: IndexNames, version: str) -> list[int]:
    """Bring `version` in line with deletions and erasures: drop what was given before them.

    Returns the users whose ratings changed, sorted (erased users are gone, not to be refolded).
    """
    ratings_index, users_index = names.concrete("ratings", version), names.concrete("users", version)
    per_rating = [d for d in deletions if d.get("movie_id") is not None]
    erased = {int(d["user_id"]): d["date"] for d in deletions if d.get("movie_id") is None}
    actions, changed = [], set()
    if per_rating:
        ids = [rating_id(d["user_id"], d["movie_id"]) for d in per_rating]
        held = es.mget(index=ratings_index, ids=ids, source_includes=["date"])["docs"]
        for doc_id, deletion, found in zip(ids, per_rating, held, strict=True):
            if found.get("found") and found["_source"].get("date", 0) <= deletion["date"]:
                actions.append({"_op_type": "delete", "_index": ratings_index, "_id": doc_id})
                changed.add(int(deletion["user_id"]))
    for user_id, erased_at in erased.items():
        query = queries.ratings_given_by_query(user_id, until=erased_at)
        for hit in helpers.scan(es, index=ratings_index, query={"query": query}, _source=False):
            actions.append({"_op_type": "delete", "_index": ratings_index, "_id": hit["_id"]})
        if es.exists(index=users_index, id=str(user_id)):
            actions.append({"_op_type": "delete", "_index": users_index, "_id": str(user_id)})
    if actions:
        helpers.bulk(es, actions, refresh=True)
    log.info("applied %d deletions and %d erasures to version %s", len(per_rating), len(erased), version)
    return sorted(changed - erased.keys())


@dataclass
class CarryOver:
    found: int  # API ratings read from the version left behind
    users: list[int]  # users whose ratings were copied or deleted
    refolded: bool = True


def carry_over(
    es: Elasticsearch,
    conn: EsConnection,
    names: IndexNames,
    *,
    from_version: str,
    to_version: str,
    since: int | None = None,
    model: ModelCard | None = None,
    consent_default: bool = True,
) -> CarryOver:
    """Copy API ratings of `from_version` into `to_version` (serving now), apply the API's deletions
    made since `since`, and refold the users concerned.

    `model` is the serving model's card; read from the models index when not given.
    """
    target = names.concrete("ratings", to_version)
    late = fetch_live_ratings(es, names.concrete("ratings", from_version), since=since)
    deletions = fetch_deletions(es, names, since=since)
    # Ratings (and deletions) of an added movie that `to_version` merged into a file's movie go to the
    # file's id, as the run moved the earlier ones (pipeline/added.py); else they would be orphans there.
    # And the other way for a rollback (`split_out`).
    named = {int(r["movie_id"]) for r in late + deletions if r.get("movie_id") is not None}
    aliases = added_carryover.merged_in(es, names, to_version, named)
    # A rollback to a version from before a merge: the file's id goes back to the added id it knows.
    split = added_carryover.split_out(es, names, to_version)
    aliases |= split
    if aliases:
        late = latest_per_pair([{**r, "movie_id": aliases.get(int(r["movie_id"]), r["movie_id"])} for r in late])
        deletions = [
            {**d, "movie_id": aliases.get(int(d["movie_id"]), d["movie_id"])} if d.get("movie_id") is not None else d
            for d in deletions
        ]
    copied = copy_newer(es, late, target)
    changed = apply_deletions(es, deletions, names, to_version)
    added_carryover.unmerge(es, names, to_version, split)  # last: a failed carry-over can run again
    erased = {int(d["user_id"]) for d in deletions if d.get("movie_id") is None}
    # An erased user is refolded only if they rated again after the erasure; otherwise they stay gone.
    users = sorted(
        u
        for u in {*copied, *changed}
        if u not in erased or es.count(index=target, query=queries.user_query(u))["count"]
    )
    if users and model is None:
        try:
            model = card_from_document(to_version, es.get(index=names.models, id=to_version)["_source"])
        except NotFoundError:
            log.warning(
                "no model card for %s: %d users keep their vectors until their next rating", to_version, len(users)
            )
            return CarryOver(len(late), users, refolded=False)
    if users:
        asyncio.run(_refold(conn, names, model, users, consent_default))
    return CarryOver(len(late), users)


async def _refold(
    conn: EsConnection, names: IndexNames, model: ModelCard, users: list[int], consent_default: bool
) -> None:
    async with async_client(conn) as es:
        await es.indices.refresh(index=names.ratings)  # the refold searches what was just copied or deleted
        for user_id in users:
            await refold_user(es, names, model, user_id, consent_default=consent_default, from_index=True)
