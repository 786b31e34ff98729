"""The pipeline's side of added movies: read them for a run, then, in the new version, mark merges and give
the added movies that got no trained vector (no ratings yet) a content vector from the new factors."""

from __future__ import annotations

import asyncio
import logging

from elasticsearch import Elasticsearch, helpers

from movierec.connection import EsConnection
from movierec.search import added_movies, newmovie, queries
from movierec.search.client import async_client
from movierec.search.indices import IndexNames

log = logging.getLogger(__name__)


def fetch_added_movies(es: Elasticsearch, names: IndexNames) -> list[dict]:
    """Every added movie not merged into a file's movie yet; none when nothing was ever added."""
    index = added_movies.index_name(names)
    if not es.indices.exists(index=index):
        return []
    hits = helpers.scan(es, index=index, query={"query": queries.added_movies_query()}, size=1000)
    return [hit["_source"] for hit in hits if hit["_source"].get("merged_into") is None]


def mark_merged(es: Elasticsearch, names: IndexNames, merges: dict[int, int]) -> None:
    """The added id now answers as the file's movie (GET /movies/{added_id} returns it)."""
    actions = [
        {"_op_type": "update", "_index": added_movies.index_name(names), "_id": str(a), "doc": {"merged_into": f}}
        for a, f in merges.items()
    ]
    if actions:
        helpers.bulk(es, actions, refresh=True)
        log.info("merged %d added movies into the files' movies: %s", len(actions), merges)


def cold_start(conn: EsConnection, names: IndexNames, version: str, records: list[dict]) -> int:
    """Added movies of `version` without a trained vector get the content vector of the new factors."""
    if not records:
        return 0
    return asyncio.run(_cold_start(conn, names, version, records))


async def _cold_start(conn: EsConnection, names: IndexNames, version: str, records: list[dict]) -> int:
    index, done = names.concrete("movies", version), 0
    async with async_client(conn) as es:
        for record in records:
            held = await es.options(ignore_status=404).get(
                index=index, id=str(record["movie_id"]), source_includes=["vector_source"]
            )
            if not held.get("found") or held["_source"].get("vector_source"):
                continue  # merged away, or trained on its ratings
            movie = newmovie.from_record(record)
            item, audience = await added_movies.content_vectors(es, index, movie.genres)
            if item is not None:
                doc = {"item_vector": item, "vector_source": "content"}
                if audience is not None:
                    doc["audience_vector"] = audience
                await es.update(index=index, id=str(record["movie_id"]), doc=doc, refresh=True)
                done += 1
    return done


def merged_in(es: Elasticsearch, names: IndexNames, version: str, movie_ids: set[int]) -> dict[int, int]:
    """added id -> the file's id, for those of `movie_ids` that were merged and that `version` no longer
    holds as movies of their own (an older version, brought back by a rollback, still does)."""
    wanted = sorted(m for m in movie_ids if newmovie.is_added_id(m))
    index = added_movies.index_name(names)
    if not wanted or not es.indices.exists(index=index):
        return {}
    docs = es.mget(index=index, ids=[str(m) for m in wanted], source_includes=["merged_into"])["docs"]
    merged = {
        m: int(d["_source"]["merged_into"])
        for m, d in zip(wanted, docs, strict=True)
        if d.get("found") and d["_source"].get("merged_into") is not None
    }
    if not merged:
        return {}
    held = es.mget(index=names.concrete("movies", version), ids=[str(m) for m in merged], source=False)["docs"]
    return {m: f for (m, f), d in zip(merged.items(), held, strict=True) if not d.get("found")}


def split_out(es: Elasticsearch, names: IndexNames, version: str) -> dict[int, int]:
    """A rollback to a version from before a merge: file id -> added id, for every merged added movie that
    `version` holds as a movie of its own while it lacks the file's movie. That version knows the movie by
    its added id, so the API ratings and deletions given to the file's id since go there (two added ids
    merged into one file id: the smallest). Un-merge them (`unmerge`) once those are carried over."""
    index = added_movies.index_name(names)
    if not es.indices.exists(index=index):
        return {}
    hits = helpers.scan(es, index=index, query={"query": queries.merged_query()}, size=1000)
    records = {int(h["_source"]["movie_id"]): int(h["_source"]["merged_into"]) for h in hits}
    if not records:
        return {}
    movies = names.concrete("movies", version)
    added, files = sorted(records), sorted(set(records.values()))
    held = es.mget(index=movies, ids=[str(m) for m in added + files], source=False)["docs"]
    found = {m for m, d in zip(added + files, held, strict=True) if d.get("found")}
    split: dict[int, int] = {}
    for a in added:
        if a in found and records[a] not in found:
            split.setdefault(records[a], a)
    return split


def unmerge(es: Elasticsearch, names: IndexNames, version: str, split: dict[int, int]) -> None:
    """Clear `merged_into` of the added movies `version` holds again (after a rollback): each is a movie of
    its own there, and the next run merges it again if its files hold the title, moving its ratings (a
    merged record is left out of `fetch_added_movies`, so its ratings would be dropped as those of an
    unknown movie). Every merged record into the split file ids that `version` holds is cleared."""
    if not split:
        return
    index = added_movies.index_name(names)
    hits = helpers.scan(es, index=index, query={"query": queries.merged_query()}, size=1000)
    records = [int(h["_source"]["movie_id"]) for h in hits if int(h["_source"]["merged_into"]) in split]
    held = es.mget(index=names.concrete("movies", version), ids=[str(a) for a in records], source=False)["docs"]
    actions = [
        {"_op_type": "update", "_index": index, "_id": str(a), "doc": {"merged_into": None}}
        for a, d in zip(records, held, strict=True)
        if d.get("found")
    ]
    if actions:
        helpers.bulk(es, actions, refresh=True)
        log.info("serving %s, from before %d merges: un-merged added movies %s", version, len(actions), split)
