"""Real-time ratings: store the rating, fold the user into the current model, update the movie.

The write path itself is search/writes.py (batches, group commit, conditional writes, live movie
statistics and audience sums); this module is its single-rating face for the API and the refold of a
user from their stored ratings (carry-over, consent).

Concurrent ratings are never refused: in one process they are merged into one batch (a `WriteQueue`),
across processes a user or movie written meanwhile is read again and retried (bounded, with jitter).
Nothing forces a refresh of the ratings or users index: the fold-in, the exclusion of rated movies and
the export read the user document, which keeps the user's ratings, with real-time GETs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from movierec.errors import Conflict, NotFound, Unavailable
from movierec.modelcard import ModelCard, card_from_document  # defined once, pure; still importable from here
from movierec.search import writes
from movierec.search.consent import get_consent
from movierec.search.domain import VectorSource, now_seconds
from movierec.search.indices import IndexNames, serving_version_async
from movierec.search.live import Event, Outcome
from movierec.search.movies import MovieNotFound
from movierec.search.writes import WriteQueue, user_hits

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
            try:
                self._cards[key] = card_from_document(version, doc)
            except (KeyError, TypeError, ValueError) as exc:  # a card without its parameters: a 503, not a 500
                raise ModelUnavailable(
                    f"model card {version} in {names.models} is incomplete ({type(exc).__name__}: {exc}): "
                    "run `movierec pipeline run`"
                ) from None
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


class RatingNotFound(NotFound):
    """The user has no stored rating for that movie."""


def rating_id(user_id: int, movie_id: int) -> str:
    return f"{user_id}_{movie_id}"


async def _submit(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    event: Event,
    consent_default: bool,
    queue: WriteQueue | None,
    live_updates: bool,
) -> RatingResult:
    if queue is not None:
        result = await queue.submit(
            es, names, model, [event], consent_default=consent_default, live_updates=live_updates
        )
    else:  # a caller without the app's queue (scripts, tests): the same batch, refreshed alone
        result = await writes.apply_batch(
            es, names, model, [event], consent_default=consent_default, live_updates=live_updates
        )
        await es.indices.refresh(index=writes.visible_indices(names))
    if event.outcome == Outcome.NOT_FOUND:
        raise RatingNotFound(event.reason)
    if event.outcome == Outcome.REJECTED:
        if event.reason and event.reason.startswith("no movie"):
            raise MovieNotFound(str(event.movie_id), by_id=True)
        raise RatingConflict(event.reason or "rating not stored")
    doc = result.users[event.user_id]
    rating = event.rating if event.rating is not None else event.previous
    return RatingResult(
        event.user_id,
        event.movie_id,
        rating,
        doc["num_ratings"],
        doc["vector_source"],
        model.version,
        result.attempts,
    )


async def add_rating(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    user_id: int,
    movie_id: int,
    rating: float,
    *,
    consent_default: bool = True,
    queue: WriteQueue | None = None,
    live_updates: bool = True,
) -> RatingResult:
    """Store (or replace) one rating; the user, the movie's statistics and audience follow at once."""
    event = Event(user_id, movie_id, rating, now_seconds())
    return await _submit(es, names, model, event, consent_default, queue, live_updates)


async def remove_rating(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    user_id: int,
    movie_id: int,
    *,
    consent_default: bool = True,
    queue: WriteQueue | None = None,
    live_updates: bool = True,
) -> RatingResult:
    """Delete a rating, remember the deletion (so a retrain does not bring it back), refold the user."""
    event = Event(user_id, movie_id, None, now_seconds())
    return await _submit(es, names, model, event, consent_default, queue, live_updates)


async def user_ratings(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[dict]:
    """Every rating of the user in the serving version (movie_id, rating, date), in movie id order."""
    doc = await _user_source(es, names, user_id)
    entries = await writes.stored_entries(es, names, user_id, doc)
    return [{"movie_id": m, "rating": e["rating"], "date": e["date"]} for m, e in sorted(entries.items())]


async def rated_movie_ids(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> list[int]:
    """Every movie the user rated in the serving version: what their recommendations exclude. Real
    time: from the user document when it keeps the ratings (every API write), else from the ratings
    index (a user as the pipeline wrote them, refreshed then)."""
    doc = await _user_source(es, names, user_id, source=["rated_movie_ids", "ratings.movie_id"])
    if doc is not None and "ratings" in doc:
        return [int(r["movie_id"]) for r in doc["ratings"]]
    return [hit["_source"]["movie_id"] for hit in await user_hits(es, names.ratings, user_id, source=["movie_id"])]


async def has_ratings(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> bool:
    return bool(await rated_movie_ids(es, names, user_id))


async def _user_source(
    es: AsyncElasticsearch, names: IndexNames, user_id: int, *, source: list[str] | None = None
) -> dict | None:
    try:
        kwargs = {"source_includes": source} if source else {}
        return (await es.get(index=names.users, id=str(user_id), **kwargs))["_source"]
    except NotFoundError:
        return None


async def refold_user(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    user_id: int,
    *,
    consent_default: bool = True,
    live_updates: bool = True,
    from_index: bool = False,
) -> tuple[dict, int]:
    """Recompute the user's document and vector from every stored rating; -> (document, attempts).

    `from_index`: read the ratings from the ratings index, not from the user document (a carry-over or
    rollback has just copied ratings into this version's index, so the document's list is stale).

    Without consent to personalisation the document gets no vector (`VectorSource.NO_CONSENT`). A user
    who gets a vector back (consent granted again) rejoins the audience of the movies they liked.
    """
    for attempt in range(1, writes.USER_ATTEMPTS + 1):
        try:
            current = await es.get(index=names.users, id=str(user_id))
        except NotFoundError:
            current = None
        source = current["_source"] if current else None
        # Read after the document: a withdrawal racing with this write either makes the write below
        # conflict (and the retry sees it), or comes later and removes the vector itself.
        allowed = (await get_consent(es, names, user_id, default=consent_default)).personalisation
        # No document here (a user whose ratings a carry-over or rollback just copied into this version):
        # their ratings are read from the ratings index, not taken as none.
        stored = {} if from_index or source is None else source
        entries = await writes.stored_entries(es, names, user_id, stored)
        vectors = await writes.VectorCache().get(es, names, set(entries)) if allowed and entries else {}
        vector = writes.fold(model, entries, vectors) if allowed else None
        doc = writes.user_document(source or {}, user_id, entries, vector, model.version)
        if not allowed:
            doc["vector_source"] = VectorSource.NO_CONSENT
        try:
            if current is None:
                await es.create(index=names.users, id=str(user_id), document=doc)
            else:
                seen = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
                await es.index(index=current["_index"], id=str(user_id), document=doc, **seen)
        except ConflictError:
            log.info("user %s changed while being refolded (attempt %d); retrying", user_id, attempt)
            await asyncio.sleep(writes._backoff(attempt))
            continue
        old_vector = (source or {}).get("user_vector")
        if live_updates and vector and not old_vector:
            await writes.move_audience(es, names, model, entries, None, vector)  # refreshes
        else:
            await es.indices.refresh(index=names.users)  # the kNN lookup sees the vector in the next call
        return doc, attempt
    raise RatingConflict(f"user {user_id} was updated concurrently {writes.USER_ATTEMPTS} times; not refolded")
