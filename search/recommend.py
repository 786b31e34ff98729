"""Recommendations as kNN over `item_vector`, with filters applied inside the kNN search."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Literal

from elasticsearch import AsyncElasticsearch, NotFoundError

from movierec.errors import NotFound
from movierec.search import queries
from movierec.search.consent import get_consent
from movierec.search.indices import IndexNames
from movierec.search.movies import ResolvedMovie, movie_hit

Mode = Literal["audience", "similar"]
POPULAR_MIN_RATINGS = 20


class NoVector(NotFound):
    """The movie or user has no factor vector (never rated / unrated movie)."""


def seed_vector(seed: ResolvedMovie, mode: Mode) -> list[float]:
    """`audience`: what the people who liked the seed liked; `similar`: the seed's own vector."""
    vector = seed.audience_vector if mode == "audience" else seed.item_vector
    vector = vector or seed.item_vector
    if not vector:
        raise NoVector(f"movie {seed.movie['movie_id']} has no vector (it has no ratings in the model)")
    return vector


async def knn_movies(
    es: AsyncElasticsearch, names: IndexNames, vector: list[float], *, k: int, flt: queries.MovieFilter | None
) -> list[dict]:
    body = queries.knn_body(vector, k=k, filter=queries.filter_clause(flt))
    resp = await es.search(index=names.movies, body=body)
    return [movie_hit(hit) for hit in resp["hits"]["hits"]]


async def for_movie(
    es: AsyncElasticsearch,
    names: IndexNames,
    seed: ResolvedMovie,
    *,
    k: int = 10,
    mode: Mode = "audience",
    flt: queries.MovieFilter | None = None,
) -> list[dict]:
    flt = flt or queries.MovieFilter()
    flt = replace(flt, exclude_ids=(*flt.exclude_ids, seed.movie["movie_id"]))
    return await knn_movies(es, names, seed_vector(seed, mode), k=k, flt=flt)


async def for_movies(
    es: AsyncElasticsearch,
    names: IndexNames,
    seeds: list[ResolvedMovie],
    *,
    k: int = 10,
    flt: queries.MovieFilter | None = None,
) -> list[dict]:
    """Several liked movies: the mean of their audience vectors."""
    vectors = [seed_vector(s, "audience") for s in seeds]
    mean = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
    flt = flt or queries.MovieFilter()
    flt = replace(flt, exclude_ids=(*flt.exclude_ids, *(s.movie["movie_id"] for s in seeds)))
    return await knn_movies(es, names, mean, k=k, flt=flt)


async def rated_movie_ids(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[int]:
    resp = await es.search(index=names.ratings, body=queries.rated_movie_ids_body(user_id))
    return [hit["_source"]["movie_id"] for hit in resp["hits"]["hits"]]


async def user_vector(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[float] | None:
    try:
        doc = await es.get(index=names.users, id=str(user_id), source_includes=["user_vector"])
    except NotFoundError:
        return None
    return doc["_source"].get("user_vector")


async def popular(es: AsyncElasticsearch, names: IndexNames, *, k: int, flt: queries.MovieFilter | None) -> list[dict]:
    """Best damped average among movies with enough ratings to trust it."""
    clause = queries.filter_clause(flt) or {"match_all": {}}
    body = {
        "size": k,
        "_source": queries.MOVIE_SOURCE,
        "query": {"bool": {"filter": [clause, {"range": {"num_ratings": {"gte": POPULAR_MIN_RATINGS}}}]}},
        "sort": [{"damped_rating": "desc"}],
    }
    resp = await es.search(index=names.movies, body=body)
    return [movie_hit(hit) for hit in resp["hits"]["hits"]]


async def for_user(
    es: AsyncElasticsearch,
    names: IndexNames,
    user_id: int,
    *,
    k: int = 10,
    flt: queries.MovieFilter | None = None,
    consent_default: bool = True,
) -> tuple[list[dict], str, str | None]:
    """(recommendations, source, reason): source `personal`, or `popular` with the reason why."""
    # Independent lookups: one round trip of latency instead of three.
    rated, vector, consent = await asyncio.gather(
        rated_movie_ids(es, names, user_id),
        user_vector(es, names, user_id),
        get_consent(es, names, user_id, default=consent_default),
    )
    flt = replace(flt or queries.MovieFilter(), exclude_ids=tuple(rated))
    if not consent.personalisation:
        return await popular(es, names, k=k, flt=flt), "popular", "no consent to personalisation"
    if not vector:
        return await popular(es, names, k=k, flt=flt), "popular", "no ratings in the model yet"
    return await knn_movies(es, names, vector, k=k, flt=flt), "personal", None
