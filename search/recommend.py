"""Recommendations as kNN over `item_vector`, with filters applied inside the kNN search.

Every body comes from a pure builder in `queries`. `diversity` (0..1) switches a list from the plain
kNN to the MMR `diversify` retriever (`queries.recommendation_body`); 0 is the plain ranking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, TypeVar

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from movierec.errors import NotFound, Unavailable
from movierec.search import queries, ratings
from movierec.search.consent import get_consent
from movierec.search.indices import IndexNames
from movierec.search.movies import (
    ALTERNATIVES,
    RESOLVE_SOURCE,
    VECTOR_FIELDS,
    MovieNotFound,
    ResolvedMovie,
    get_movie,
    movie_hit,
    resolve_title,
    resolved,
)
from movierec.search.title_cache import DocVersion, TitleResolutions, doc_version

Mode = Literal["audience", "similar"]
T = TypeVar("T")
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
    return _knn_hits(await es.search(index=names.movies, body=body), diversity)


def _knn_hits(resp: dict, diversity: float) -> list[dict]:
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
    movie has none of them, MovieNotFound when there is no such movie. Served only inside a remembered
    title's `_msearch` (`for_title`); for a new title and for a movie id the vector-sending forms
    measured as fast or faster (`for_title`, `similar_to`); benchmarks/serve.py measures both forms.
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
    resolutions: TitleResolutions | None = None,
) -> tuple[ResolvedMovie, list[dict]]:
    """(the movie understood, its list).

    A title remembered in `resolutions` (title_cache.py) costs one request: an `_msearch` of the title
    search (the check that the remembered movie still wins, and the alternatives; without its fuzzy
    clause for an exact match) and the kNN that looks the seed's vector up by the remembered id, run side
    by side inside Elasticsearch. A new title (or a failed check) takes two round trips: the full title
    search returns the seed's vectors with its hits, then the kNN is sent the vector (measured as fast
    as a lookup there: README, "Lookup or two round trips"); the resolution is then remembered.
    """
    remembered = resolutions.get(names.movies, title) if resolutions is not None else None
    if remembered is not None:
        movie_id, exact = remembered
        cached = resolutions.seed_vector(names.movies, title, mode)
        found = await _remembered_title(
            es, names, title, movie_id, exact=exact, k=k, mode=mode, flt=flt, diversity=diversity, cached=cached
        )
        if found is not None:
            return found
        resolutions.forget(names.movies, title)
    seed = await resolve_title(es, names, title)
    recs = await for_movie(es, names, seed, k=k, mode=mode, flt=flt, diversity=diversity)
    if resolutions is not None:
        resolutions.remember(names.movies, title, seed.movie["movie_id"], exact=seed.exact)
        if seed.version is not None:
            resolutions.remember_vector(names.movies, title, mode, seed.version, seed_vector(seed, mode))
    return seed, recs


async def _remembered_title(
    es: AsyncElasticsearch,
    names: IndexNames,
    title: str,
    movie_id: int,
    *,
    exact: bool,
    k: int,
    mode: Mode,
    flt: queries.MovieFilter | None,
    diversity: float,
    cached: tuple[DocVersion, list[float]] | None = None,
) -> tuple[ResolvedMovie, list[dict]] | None:
    """One `_msearch` for a remembered title; None when its check fails (the caller takes the full path).
    With a `cached` seed vector the kNN is sent it, and the answer stands only if the title search's top
    hit is still the document version it was read from (title_cache.py)."""
    search = queries.title_search_body(
        title, limit=ALTERNATIVES + 1, source=RESOLVE_SOURCE, fuzzy=not exact, versions=cached is not None
    )
    query: queries.QueryVector = (
        cached[1] if cached is not None else queries.VectorLookup(names.movies, str(movie_id), MODE_FIELDS[mode][0])
    )
    flt = _excluding(flt, [movie_id])
    knn = queries.recommendation_body(query, k=k, filter=queries.filter_clause(flt), diversity=diversity)
    found, listed = (await es.msearch(index=names.movies, searches=[{}, search, {}, knn]))["responses"]
    hits = found.get("hits", {}).get("hits", [])
    if not hits or hits[0]["_source"]["movie_id"] != movie_id or "error" in listed:
        return None  # not the remembered movie any more, or no vector of the mode's first kind: full path
    if cached is not None and doc_version(hits[0]) != cached[0]:
        return None  # the movie changed since its vector was remembered (a live update): full path
    seed = resolved(title, hits)
    if exact and not seed.exact:
        return None
    return seed, _knn_hits(listed, diversity)


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


def rated_lookup(names: IndexNames, user_id: int) -> queries.TermsLookup:
    """The user's rated movie ids as Elasticsearch reads them from the user document (`rated_movie_ids`,
    written by the pipeline and by every rating's fold-in)."""
    return queries.TermsLookup(names.users, str(user_id), "rated_movie_ids")


def too_many_terms(exc: BadRequestError) -> bool:
    """The 400 of a terms query (a lookup included) over `index.max_terms_count` values (65,536 default)."""
    return "max_terms_count" in str(exc.body) or "exceeded the allowed maximum" in str(exc.body)


async def excluding_rated(
    es: AsyncElasticsearch,
    names: IndexNames,
    user_id: int,
    flt: queries.MovieFilter | None,
    call: Callable[[queries.MovieFilter], Awaitable[T]],
) -> T:
    """`call(filter)` with the user's rated movies excluded inside Elasticsearch (a terms lookup on the user
    document: no ids through Python). A user with more rated movies than one terms query takes
    (`index.max_terms_count`) is read page by page here and excluded in several terms clauses instead."""
    base = flt or queries.MovieFilter()
    try:
        return await call(replace(base, exclude_lookup=rated_lookup(names, user_id)))
    except BadRequestError as exc:
        if not too_many_terms(exc):
            raise
    ids = await rated_movie_ids(es, names, user_id)
    return await call(replace(base, exclude_ids=(*base.exclude_ids, *ids)))


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

    One kNN request does the work: Elasticsearch looks the user's vector up (`query_vector_builder.lookup`)
    and excludes their rated movies with a terms lookup on the same user document (`rated_movie_ids`), so
    no id and no vector passes through Python. The consent record is read at the same time (a GET, so a
    just-recorded withdrawal is seen): a withdrawal removes the vector, but the consent is still checked,
    because the removal can fail under a concurrent write (`VectorNotRemoved`) and an opt-in deployment
    may serve vectors written before it switched. A user without a vector is a lookup miss: popular list.
    The earlier form read every rated id (up to 10,000 a page, as JSON) and the consent first, then sent
    the kNN: 3.7x a bare kNN at p50 (issue 16); benchmarks/serve.py measures this one against a bare kNN.
    """
    vector = queries.VectorLookup(names.users, str(user_id), "user_vector")

    async def personal(f: queries.MovieFilter) -> list[dict] | None:
        try:
            return await knn_movies(es, names, vector, k=k, flt=f, diversity=diversity)
        except NotFoundError as exc:
            if not lookup_missed(exc):
                raise
            return None  # no user document, or no vector on it

    recs, consent = await asyncio.gather(
        excluding_rated(es, names, user_id, flt, personal), get_consent(es, names, user_id, default=consent_default)
    )
    if consent.personalisation and recs is not None:
        return UserRecommendations(recs, Source.PERSONAL)
    reason = NO_VECTOR if consent.personalisation else NO_CONSENT
    listed = await excluding_rated(es, names, user_id, flt, lambda f: popular(es, names, k=k, flt=f))
    return UserRecommendations(listed, Source.POPULAR, reason)
