"""Recommendations as kNN over `item_vector`, with filters applied inside the kNN search.

Every body comes from a pure builder in `queries`. `diversity` (0..1) switches a list from the plain
kNN to the MMR `diversify` retriever (`queries.recommendation_body`); 0 is the plain ranking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from elasticsearch import AsyncElasticsearch, NotFoundError

from movierec.errors import NotFound, Unavailable
from movierec.search import queries, ratings
from movierec.search.consent import get_consent
from movierec.search.indices import IndexNames
from movierec.search.movies import VECTOR_FIELDS, MovieNotFound, ResolvedMovie, get_movie, movie_hit, resolve_title

Mode = Literal["audience", "similar"]
POPULAR_MIN_RATINGS = 20
# The vector fields a mode reads, in order: a movie nobody liked has no audience vector, so
# `audience` falls back to the movie's own item vector (as it always has).
MODE_FIELDS: dict[str, tuple[str, ...]] = {"audience": ("audience_vector", "item_vector"), "similar": ("item_vector",)}


class NoVector(NotFound):
    """The movie or user has no factor vector (never rated / unrated movie)."""


class DiversityUnavailable(Unavailable):
    """The serving movies index keeps its vectors only in `_source` (created by Elasticsearch 8.x), which
    the diversify retriever does not read: it finds candidates and keeps none of them."""


class Source(StrEnum):
    """Where a user's list came from (the JSON values of `source`)."""

    PERSONAL = "personal"
    POPULAR = "popular"


@dataclass(frozen=True)
class UserRecommendations:
    recommendations: list[dict]
    source: Source
    reason: str | None = None  # why the list is not personal


def seed_vector(seed: ResolvedMovie, mode: Mode) -> list[float]:
    """`audience`: what the people who liked the seed liked; `similar`: the seed's own vector."""
    vector = seed.audience_vector if mode == "audience" else seed.item_vector
    vector = vector or seed.item_vector
    if not vector:
        raise NoVector(f"movie {seed.movie['movie_id']} has no vector (it has no ratings in the model)")
    return vector


def lookup_missed(exc: NotFoundError) -> bool:
    """The 404 a `query_vector_builder.lookup` gives when the document or its vector field is missing
    (a missing index is a different 404: nothing indexed)."""
    return "lookup query vector builder" in str(exc.body)


async def knn_movies(
    es: AsyncElasticsearch,
    names: IndexNames,
    query: queries.QueryVector,
    *,
    k: int,
    flt: queries.MovieFilter | None,
    diversity: float = 0.0,
) -> list[dict]:
    body = queries.recommendation_body(query, k=k, filter=queries.filter_clause(flt), diversity=diversity)
    resp = await es.search(index=names.movies, body=body)
    hits = resp["hits"]["hits"]
    if diversity and not hits and resp["hits"]["total"]["value"]:
        raise DiversityUnavailable(
            "diversity needs a movies index written by Elasticsearch 9.x (the serving one was created by 8.x, "
            "whose vectors the diversify retriever cannot read): run `movierec pipeline run` once"
        )
    return [movie_hit(hit) for hit in hits]


def _excluding(flt: queries.MovieFilter | None, ids: Sequence[int]) -> queries.MovieFilter:
    flt = flt or queries.MovieFilter()
    return replace(flt, exclude_ids=(*flt.exclude_ids, *ids))


async def for_movie(
    es: AsyncElasticsearch,
    names: IndexNames,
    seed: ResolvedMovie,
    *,
    k: int = 10,
    mode: Mode = "audience",
    flt: queries.MovieFilter | None = None,
    diversity: float = 0.0,
) -> list[dict]:
    """A seed whose vectors are at hand: the vector is sent with the kNN."""
    flt = _excluding(flt, [seed.movie["movie_id"]])
    return await knn_movies(es, names, seed_vector(seed, mode), k=k, flt=flt, diversity=diversity)


async def for_movie_id(
    es: AsyncElasticsearch,
    names: IndexNames,
    movie_id: int,
    *,
    k: int = 10,
    mode: Mode = "audience",
    flt: queries.MovieFilter | None = None,
    diversity: float = 0.0,
) -> list[dict]:
    """kNN whose query vector Elasticsearch reads from the movie's own document (`lookup`).

    Tries the mode's fields in order (a movie nobody liked costs one more request); NoVector when the
    movie has none of them, MovieNotFound when there is no such movie. No served path uses it today:
    for a title and for a movie id the vector-sending forms measured as fast or faster (`for_title`,
    `similar_to`); benchmarks/serve.py measures both forms on every run.
    """
    flt = _excluding(flt, [movie_id])
    for field in MODE_FIELDS[mode]:
        lookup = queries.VectorLookup(names.movies, str(movie_id), field)
        try:
            return await knn_movies(es, names, lookup, k=k, flt=flt, diversity=diversity)
        except NotFoundError as exc:
            if not lookup_missed(exc):
                raise
            if "not found in index" in str(exc.body):
                raise MovieNotFound(str(movie_id), by_id=True) from None
    raise NoVector(f"movie {movie_id} has no vector (it has no ratings in the model)")


async def for_title(
    es: AsyncElasticsearch,
    names: IndexNames,
    title: str,
    *,
    k: int = 10,
    mode: Mode = "audience",
    flt: queries.MovieFilter | None = None,
    diversity: float = 0.0,
) -> tuple[ResolvedMovie, list[dict]]:
    """(the movie understood, its list): the title search returns the seed's vectors with its hits, then
    the kNN is sent the vector. Two round trips either way: a lookup here saves no round trip, only the
    vectors in the hits' JSON, and costs its read inside Elasticsearch. Measured on 9.5.3
    (benchmarks/serve.py, four runs, p50 ms vectors sent vs looked up): concurrency 1: 8.87/8.86,
    6.45/6.53, 6.24/6.61, 7.09/7.77; concurrency 8: 70.0/65.9, 66.3/57.7, 53.4/61.3, 66.8/57.6. Never
    faster at 1; at 8 ahead in three runs of four on a machine whose load average was 15-20 from other
    work. Kept the vectors: the per-request latency is the consistent number (`for_movie_id` is the
    lookup form, re-measured by every benchmark run).
    """
    seed = await resolve_title(es, names, title)
    return seed, await for_movie(es, names, seed, k=k, mode=mode, flt=flt, diversity=diversity)


async def similar_to(
    es: AsyncElasticsearch,
    names: IndexNames,
    movie_id: int,
    *,
    k: int = 10,
    mode: Mode = "audience",
    flt: queries.MovieFilter | None = None,
    diversity: float = 0.0,
) -> tuple[dict, list[dict]]:
    """(the movie, its list) for a movie id: the document with its vectors, then the kNN with the vector.

    Measured against the one-round-trip form (the document and a kNN that looks the vector up, side by
    side; benchmarks/serve.py on 9.5.3, four runs, p50 ms two trips vs lookup): concurrency 1:
    3.24/3.50, 4.40/4.65, 3.40/3.50, 4.35/4.40; concurrency 8: 26.9/27.6, 23.6/25.6, 20.9/22.3, 25.8/26.5.
    Both forms send two requests and read the vector once; the lookup only overlaps them, which gains
    nothing on a loopback round trip (~0.3 ms) when the cores are busy, and its kNN waits for an
    internal get. So the two trips stay.
    """
    doc = await get_movie(es, names, movie_id, with_vectors=True)
    seed = ResolvedMovie(movie_hit({"_source": doc}), [], doc.get("item_vector"), doc.get("audience_vector"))
    recs = await for_movie(es, names, seed, k=k, mode=mode, flt=flt, diversity=diversity)
    return {key: value for key, value in doc.items() if key not in (*VECTOR_FIELDS, "suggest")}, recs


async def for_movies(
    es: AsyncElasticsearch,
    names: IndexNames,
    seeds: list[ResolvedMovie],
    *,
    k: int = 10,
    flt: queries.MovieFilter | None = None,
    diversity: float = 0.0,
) -> list[dict]:
    """Several liked movies: the mean of their audience vectors (computed here, so sent with the kNN)."""
    vectors = [seed_vector(s, "audience") for s in seeds]
    mean = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
    flt = _excluding(flt, [s.movie["movie_id"] for s in seeds])
    return await knn_movies(es, names, mean, k=k, flt=flt, diversity=diversity)


async def rated_movie_ids(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[int]:
    """Every movie the user rated (paged: a heavy user's 10,000+ are all excluded)."""
    return await ratings.rated_movie_ids(es, names, user_id)


async def popular(es: AsyncElasticsearch, names: IndexNames, *, k: int, flt: queries.MovieFilter | None) -> list[dict]:
    """Best damped average among movies with enough ratings to trust it."""
    body = queries.popular_body(k=k, filter=queries.filter_clause(flt), min_ratings=POPULAR_MIN_RATINGS)
    resp = await es.search(index=names.movies, body=body)
    return [movie_hit(hit) for hit in resp["hits"]["hits"]]


NO_CONSENT = "no consent to personalisation"
NO_VECTOR = "no ratings in the model yet"


async def for_user(
    es: AsyncElasticsearch,
    names: IndexNames,
    user_id: int,
    *,
    k: int = 10,
    flt: queries.MovieFilter | None = None,
    consent_default: bool = True,
    diversity: float = 0.0,
) -> UserRecommendations:
    """Personal recommendations (source `personal`), or the popular list with the reason why.

    The rated movies and the consent are read side by side; the kNN then looks the user's vector up
    itself (a user without one is a lookup miss: popular list). Kept over fetching the vector alongside
    the other two reads (benchmarks/serve.py on 9.5.3, four runs, p50 ms fetched vs lookup):
    concurrency 1: 7.33/7.34, 8.13/7.54, 7.05/6.71, 7.31/7.23; concurrency 8: 53.0/56.7, 60.7/53.2,
    55.9/46.8, 62.5/54.1. It is one request fewer per call and no vector in JSON, for 0.2-0.6 ms of lookup
    inside Elasticsearch (bare kNN, vector sent vs looked up: 1.81/2.02, 1.86/2.18, 2.32/2.91, 1.85/2.09).
    """
    rated, consent = await asyncio.gather(
        rated_movie_ids(es, names, user_id), get_consent(es, names, user_id, default=consent_default)
    )
    flt = replace(flt or queries.MovieFilter(), exclude_ids=tuple(rated))
    if not consent.personalisation:
        return UserRecommendations(await popular(es, names, k=k, flt=flt), Source.POPULAR, NO_CONSENT)
    lookup = queries.VectorLookup(names.users, str(user_id), "user_vector")
    try:
        recs = await knn_movies(es, names, lookup, k=k, flt=flt, diversity=diversity)
    except NotFoundError as exc:
        if not lookup_missed(exc):
            raise
        return UserRecommendations(await popular(es, names, k=k, flt=flt), Source.POPULAR, NO_VECTOR)
    return UserRecommendations(recs, Source.PERSONAL)
