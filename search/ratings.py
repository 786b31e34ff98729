"""Real-time ratings: store the rating, fold the user into the current model, write the vector back.

Concurrent ratings for one user are safe: the user document is written with
`if_seq_no`/`if_primary_term` and a writer that lost the race re-reads every rating and retries,
so the last successful write always includes every stored rating. If the vector update fails for
good, the rating write is undone (restored or deleted), so nothing is left half-written.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass

import numpy as np
from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from movierec.errors import Conflict, NotFound, Unavailable
from movierec.modelcard import ModelCard, card_from_document  # defined once, pure; still importable from here
from movierec.search import added_movies, queries
from movierec.search.consent import get_consent
from movierec.search.domain import RatingSource, VectorSource, now_ms, now_seconds
from movierec.search.foldin import fold_in_user
from movierec.search.indices import (
    WRITE_ATTEMPTS,
    IndexNames,
    ensure_shared_index,
    replace_if_unchanged,
    serving_version_async,
)
from movierec.search.movies import MovieNotFound

log = logging.getLogger(__name__)


class ModelUnavailable(Unavailable):
    """No model card for the serving version: nothing to fold users into."""


class RatingConflict(Conflict):
    """Too many concurrent writers for one user; the rating was not stored."""


class ModelCache:
    """Model cards by version; a new pipeline run brings a new version, so entries never go stale."""

    def __init__(self) -> None:
        self._cards: dict[tuple[str, str], ModelCard] = {}

    async def current(self, es: AsyncElasticsearch, names: IndexNames) -> ModelCard:
        version = await serving_version_async(es, names)
        if version is None:
            raise ModelUnavailable("no model is serving yet: run `movierec pipeline run`")
        key = (names.prefix, version)
        if key not in self._cards:
            try:
                doc = (await es.get(index=names.models, id=version))["_source"]
            except NotFoundError:
                raise ModelUnavailable(f"model card {version} is missing from {names.models}") from None
            self._cards[key] = card_from_document(version, doc)
        return self._cards[key]


@dataclass
class RatingResult:
    user_id: int
    movie_id: int
    rating: float
    num_ratings: int
    vector_source: VectorSource
    model_version: str
    attempts: int


def rating_id(user_id: int, movie_id: int) -> str:
    return f"{user_id}_{movie_id}"


async def add_rating(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    user_id: int,
    movie_id: int,
    rating: float,
    *,
    consent_default: bool = True,
) -> RatingResult:
    try:
        movie = (await es.get(index=names.movies, id=str(movie_id), source_includes=["title", "genres"]))["_source"]
    except NotFoundError:
        raise MovieNotFound(str(movie_id), by_id=True) from None
    doc_id = rating_id(user_id, movie_id)
    try:
        previous = (await es.get(index=names.ratings, id=doc_id))["_source"]
    except NotFoundError:
        previous = None
    rating_doc = {
        "user_id": user_id,
        "movie_id": movie_id,
        "rating": rating,
        "date": now_seconds(),  # rating dates are epoch seconds, as in MovieLens
        "genres": movie.get("genres", []),
        "title": movie.get("title"),
        "source": RatingSource.API,  # so the next pipeline run carries it over (carryover.py)
    }
    # refresh=True: the fold-in below (and the next read) must see this rating.
    await es.index(index=names.ratings, id=doc_id, document=rating_doc, refresh=True)
    try:
        doc, attempts = await refold_user(es, names, model, user_id, consent_default=consent_default)
    except BaseException:
        await _undo(es, names, doc_id, previous)
        raise
    await added_movies.on_rating(es, names, model, movie_id, user_id=user_id, rating=rating)  # item fold-in hook
    return RatingResult(user_id, movie_id, rating, doc["num_ratings"], doc["vector_source"], model.version, attempts)


class RatingNotFound(NotFound):
    """The user has no stored rating for that movie."""


async def remove_rating(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    user_id: int,
    movie_id: int,
    *,
    consent_default: bool = True,
) -> RatingResult:
    """Delete a rating, remember the deletion (so a retrain does not bring it back), refold the user."""
    doc_id = rating_id(user_id, movie_id)
    try:
        previous = (await es.get(index=names.ratings, id=doc_id))["_source"]
    except NotFoundError:
        raise RatingNotFound(f"user {user_id} has no rating for movie {movie_id}") from None
    await ensure_shared_index(es, names, "deletions")
    await es.index(
        index=names.deletions,
        id=doc_id,
        document={"kind": "rating", "user_id": user_id, "movie_id": movie_id, "date": now_ms()},
        refresh=True,
    )
    try:
        await es.delete(index=names.ratings, id=doc_id, refresh=True)
        doc, attempts = await refold_user(es, names, model, user_id, consent_default=consent_default)
    except BaseException:
        await _undo(es, names, doc_id, previous)
        await es.options(ignore_status=404).delete(index=names.deletions, id=doc_id, refresh=True)
        raise
    await added_movies.on_rating(es, names, model, movie_id, user_id=user_id, rating=None)  # item fold-in hook
    return RatingResult(
        user_id, movie_id, previous["rating"], doc["num_ratings"], doc["vector_source"], model.version, attempts
    )


async def _undo(es: AsyncElasticsearch, names: IndexNames, doc_id: str, previous: dict | None) -> None:
    try:
        if previous is None:
            await es.delete(index=names.ratings, id=doc_id, refresh=True)
        else:
            await es.index(index=names.ratings, id=doc_id, document=previous, refresh=True)
    except Exception:  # the original error matters more; this one is logged
        log.exception("could not undo rating %s after a failed update", doc_id)


async def user_hits(es: AsyncElasticsearch, index: str, user_id: int, *, source: list[str] | bool) -> list[dict]:
    """Every hit of the user's documents in `index` (ratings or deletions), however many: the one paging
    reader (search_after, `queries.USER_PAGE` a page) behind the fold-in, exclusion, export and erasure."""
    hits: list[dict] = []
    after = None
    while True:
        body = queries.user_page_body(user_id, source=source, search_after=after)
        page = (await es.search(index=index, body=body))["hits"]["hits"]
        hits += page
        if len(page) < queries.USER_PAGE:
            return hits
        after = page[-1]["sort"]


async def user_ratings(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[dict]:
    """Every rating of the user in the serving version (movie_id, rating, date), in movie id order."""
    hits = await user_hits(es, names.ratings, user_id, source=["movie_id", "rating", "date"])
    return [hit["_source"] for hit in hits]


async def rated_movie_ids(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[int]:
    """Every movie the user rated in the serving version: what their recommendations exclude."""
    return [hit["_source"]["movie_id"] for hit in await user_hits(es, names.ratings, user_id, source=["movie_id"])]


async def has_ratings(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> bool:
    return (await es.count(index=names.ratings, query=queries.user_query(user_id)))["count"] > 0


async def refold_user(
    es: AsyncElasticsearch, names: IndexNames, model: ModelCard, user_id: int, *, consent_default: bool = True
) -> tuple[dict, int]:
    """Recompute the user's document and vector from every stored rating; -> (document, attempts).

    Without consent to personalisation the document gets no vector (`VectorSource.NO_CONSENT`).
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            current = await es.get(index=names.users, id=str(user_id))
        except NotFoundError:
            current = None
        # Read after the document: a withdrawal racing with this write either makes the write below
        # conflict (and the retry sees it), or comes later and removes the vector itself.
        allowed = (await get_consent(es, names, user_id, default=consent_default)).personalisation
        rated = await user_ratings(es, names, user_id)
        vector = await _fold_in(es, names, model, rated) if allowed else None
        doc = _user_document(current["_source"] if current else {}, user_id, rated, vector, model.version)
        if not allowed:
            doc["vector_source"] = VectorSource.NO_CONSENT
        try:
            if current is None:
                await es.create(index=names.users, id=str(user_id), document=doc, refresh=True)
            else:
                await replace_if_unchanged(es, current, doc)
        except ConflictError:
            log.info("user %s changed while folding in a rating (attempt %d); retrying", user_id, attempt)
            continue
        return doc, attempt
    raise RatingConflict(f"user {user_id} was updated concurrently {WRITE_ATTEMPTS} times; rating not stored")


async def _fold_in(
    es: AsyncElasticsearch, names: IndexNames, model: ModelCard, rated: list[dict]
) -> list[float] | None:
    if not rated:
        return None
    ids = [str(r["movie_id"]) for r in rated]
    docs = (await es.mget(index=names.movies, ids=ids, source_includes=["item_vector"]))["docs"]
    vectors, values = [], []
    for doc, r in zip(docs, rated, strict=True):
        vec = doc.get("_source", {}).get("item_vector") if doc.get("found") else None
        if vec:  # movies unknown to the model carry no signal for it
            vectors.append(vec)
            values.append(r["rating"])
    if not vectors:
        return None
    solved = fold_in_user(
        np.array(vectors),
        values,
        reg_param=model.reg_param,
        implicit=model.implicit,
        alpha=model.alpha,
        gram=model.gram,
    )
    return [float(x) for x in solved]


def _user_document(
    previous: dict, user_id: int, rated: list[dict], vector: list[float] | None, model_version: str
) -> dict:
    values = [r["rating"] for r in rated]
    dates = [int(r["date"]) for r in rated if isinstance(r.get("date"), int | float)]
    doc = {
        **{k: v for k, v in previous.items() if k in ("favourite_genres", "activity_level")},
        "user_id": user_id,
        "num_ratings": len(values),
        "avg_rating": statistics.fmean(values) if values else None,
        "rating_std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "first_rating_at": min(dates) if dates else None,
        "last_rating_at": max(dates) if dates else None,
        "vector_source": VectorSource.FOLD_IN if vector else VectorSource.NONE,
        "model_version": model_version,
        "updated_at": now_ms(),
    }
    if vector:
        doc["user_vector"] = vector
    return {k: v for k, v in doc.items() if v is not None}
