"""Ratings that arrived through the API outlive a retrain.

The MovieLens files do not hold them, so a pipeline run reads them from the serving version, trains on
them and indexes them (still marked `source: api`). Ratings that arrive while the run works land in
the old version; after the switch they are copied over and their users folded into the new model.
"""

from __future__ import annotations

import logging

from elasticsearch import Elasticsearch, helpers

from search.ratings import LIVE_SOURCE, rating_id

log = logging.getLogger(__name__)

LIVE_FIELDS = ["user_id", "movie_id", "rating", "date", "genres", "title", "source"]


def live_ratings_query(*, since: int | None = None) -> dict:
    """API ratings, optionally only those dated `since` (epoch seconds) or later."""
    filters: list[dict] = [{"term": {"source": LIVE_SOURCE}}]
    if since is not None:
        filters.append({"range": {"date": {"gte": since, "format": "epoch_second"}}})
    return {"bool": {"filter": filters}}


def fetch_live_ratings(es: Elasticsearch, index: str, *, since: int | None = None) -> list[dict]:
    """Every API rating in `index` (alias or concrete name); none when the index does not exist."""
    if not es.indices.exists(index=index):
        return []
    hits = helpers.scan(es, index=index, query={"query": live_ratings_query(since=since)}, _source=LIVE_FIELDS, size=2000)
    return [hit["_source"] for hit in hits]


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
        if held and held.get("source") == LIVE_SOURCE and held.get("date", 0) >= rating["date"]:
            continue
        actions.append({"_index": index, "_id": doc_id, "_source": rating})
        users.add(int(rating["user_id"]))
    if actions:
        helpers.bulk(es, actions, refresh=True)
    log.info("copied %d of %d late API ratings into %s", len(actions), len(ratings), index)
    return sorted(users)

