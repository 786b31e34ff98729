"""Movies added through the API: stored for good, searchable at once, a content vector, then the item fold-in.

`add_movie` validates nothing itself (search/newmovie.py did); it checks for a duplicate, takes an id from
the added-movies index's sequence, writes the record there (unversioned, so it outlives retrains and
rollbacks) and the movie document into every kept version's movies index, refreshed: the next search,
suggestion, "similar" and title -> recommendations call sees it. Nothing is left half-written: a failure
after the duplicate key was taken removes what this call wrote.

`on_rating` is what the rating write path calls after a rating of a movie is stored or removed: for an
added movie it refolds the item vector from the vectors of its raters (the ALS item step,
`foldin.fold_in_item`); trained movies keep their trained vectors until the next pipeline run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError
from elasticsearch.helpers import async_scan

from movierec.errors import Conflict, NotFound
from movierec.modelcard import ModelCard
from movierec.search import newmovie, queries
from movierec.search.domain import VectorSource, now_ms
from movierec.search.foldin import GramDrift, fold_in_item, gram_drift
from movierec.search.indices import IndexNames, ensure_shared_index, kind_indices, serving_version_async
from movierec.search.newmovie import NewMovie

log = logging.getLogger(__name__)

KIND = "added_movies"
ID_ATTEMPTS = 8  # ids found taken (the index was restored from an older snapshot): move the sequence on


def index_name(names: IndexNames) -> str:
    return names.alias(KIND)


class DuplicateMovie(Conflict):
    """The same normalised title and year is already a movie: 409 with it."""

    def __init__(self, existing: dict) -> None:
        self.existing = existing
        self.extra = {"existing": existing}
        year = f" ({existing['year']})" if existing.get("year") else ""
        super().__init__(f"{existing.get('title')!r}{year} is already movie {existing.get('movie_id')}")


class NoServingVersion(NotFound):
    """Nothing is indexed yet, so there is no catalogue to add a movie to."""


@dataclass
class AddedMovie:
    movie: dict  # the movies-index document, without vectors
    vector_source: str | None
    versions: list[str]  # every kept version it was written into


async def add_movie(es: AsyncElasticsearch, names: IndexNames, movie: NewMovie) -> AddedMovie:
    serving = await serving_version_async(es, names)
    if serving is None:
        raise NoServingVersion("no catalogue is indexed yet: run `movierec pipeline run` before adding movies")
    existing = await find_same(es, names, movie)
    if existing is not None:
        raise DuplicateMovie(existing)
    await ensure_shared_index(es, names, KIND)
    index = index_name(names)
    key_doc_id = newmovie.key_id(movie.key)
    movie_id = await _allocate_id(es, names)
    try:
        await es.create(
            index=index,
            id=key_doc_id,
            document={"kind": newmovie.KEY_KIND, "key": movie.key, "movie_id": movie_id},
            refresh=True,
        )
    except ConflictError:  # the same movie is being (or was just) added by another call
        raise DuplicateMovie(await _holder_of_key(es, names, key_doc_id, movie)) from None
    written: list[str] = []
    served: dict = {}
    try:
        await es.create(
            index=index, id=str(movie_id), document=newmovie.record(movie, movie_id, now_ms()), refresh=True
        )
        written.append(index)
        movies_indices = await kind_indices(es, names, "movies")
        for concrete in movies_indices:
            doc = await content_document(
                es, concrete, movie, movie_id, concrete.removeprefix(names.concrete("movies", ""))
            )
            # refresh: the very next search, suggestion or kNN must find it (adds are rare; one refresh each).
            await es.index(index=concrete, id=str(movie_id), document=doc, refresh=True)
            written.append(concrete)
            if concrete == names.concrete("movies", serving):
                served = doc
    except BaseException:
        await _undo(es, index, written, key_doc_id, movie_id)
        raise
    shown = {k: v for k, v in served.items() if k not in ("suggest", "item_vector", "audience_vector")}
    versions = [c.removeprefix(names.concrete("movies", "")) for c in written if c != index]
    return AddedMovie(shown, served.get("vector_source"), versions)


async def find_same(es: AsyncElasticsearch, names: IndexNames, movie: NewMovie) -> dict | None:
    """The serving version's movie with the same normalised title and year, if any."""
    hits = (await es.search(index=names.movies, body=queries.same_movie_body(movie.title_norm, movie.year)))["hits"]
    return hits["hits"][0]["_source"] if hits["hits"] else None


async def _holder_of_key(es: AsyncElasticsearch, names: IndexNames, key_doc_id: str, movie: NewMovie) -> dict:
    try:
        holder = (await es.get(index=index_name(names), id=key_doc_id))["_source"]["movie_id"]
    except NotFoundError:  # the other call failed and undid its key in between
        return {"title": movie.title, "year": movie.year}
    try:
        return (await es.get(index=names.movies, id=str(holder), source_includes=queries.MOVIE_SOURCE))["_source"]
    except NotFoundError:  # still being written by the other call: its record says what it is
        return {"movie_id": holder, "title": movie.title, "year": movie.year, "genres": movie.genres}


async def _allocate_id(es: AsyncElasticsearch, names: IndexNames) -> int:
    """A fresh id: every write of the sequence document gets the next `_version`, atomically, so two calls
    never get the same one. A taken id (an index restored from an older copy) moves the sequence past it."""
    index = index_name(names)
    for _ in range(ID_ATTEMPTS):
        version = (await es.index(index=index, id=newmovie.SEQUENCE_ID, document={"kind": newmovie.SEQUENCE_KIND}))[
            "_version"
        ]
        movie_id = newmovie.added_id(version)
        if not await _id_taken(es, names, movie_id):
            return movie_id
        highest = await _highest_added_id(es, names)
        await es.index(
            index=index,
            id=newmovie.SEQUENCE_ID,
            document={"kind": newmovie.SEQUENCE_KIND},
            version=highest - newmovie.ADDED_ID_MIN + 1,
            version_type="external_gte",
        )
    raise Conflict(f"no free added-movie id after {ID_ATTEMPTS} attempts; try again")


async def _id_taken(es: AsyncElasticsearch, names: IndexNames, movie_id: int) -> bool:
    return bool(await es.exists(index=index_name(names), id=str(movie_id))) or bool(
        await es.exists(index=names.movies, id=str(movie_id))
    )


async def _highest_added_id(es: AsyncElasticsearch, names: IndexNames) -> int:
    body = {"size": 0, "aggs": {"top": {"max": {"field": "movie_id"}}}}
    top = [newmovie.ADDED_ID_MIN]
    for index in (index_name(names), names.movies):
        value = (await es.search(index=index, body=body))["aggregations"]["top"]["value"]
        if value is not None:
            top.append(int(value))
    return max(top)


async def _undo(es: AsyncElasticsearch, index: str, written: list[str], key_doc_id: str, movie_id: int) -> None:
    try:
        for concrete in written:
            await es.options(ignore_status=404).delete(index=concrete, id=str(movie_id), refresh=True)
        await es.options(ignore_status=404).delete(index=index, id=key_doc_id, refresh=True)
    except Exception:  # the original error matters more
        log.exception("could not undo the partly added movie %s", movie_id)


async def merged_into(es: AsyncElasticsearch, names: IndexNames, movie_id: int) -> int | None:
    """The data file's id an added movie was merged into by a pipeline run (its alias), or None."""
    return (await merged_targets(es, names, [movie_id])).get(movie_id)


async def merged_targets(es: AsyncElasticsearch, names: IndexNames, movie_ids: Iterable[int]) -> dict[int, int]:
    """added id -> the data file's id, for those of `movie_ids` a pipeline run merged (one real-time mget)."""
    wanted = sorted({m for m in movie_ids if newmovie.is_added_id(m)})
    if not wanted:
        return {}
    try:
        docs = (await es.mget(index=index_name(names), ids=[str(m) for m in wanted], source_includes=["merged_into"]))[
            "docs"
        ]
    except NotFoundError:  # no added-movies index at all: nothing was ever added
        return {}
    return {
        m: int(d["_source"]["merged_into"])
        for m, d in zip(wanted, docs, strict=True)
        if d.get("found") and d["_source"].get("merged_into") is not None
    }


# ---- the content vector (cold start) ---------------------------------------------------------


async def content_vectors(
    es: AsyncElasticsearch, movies_index: str, genres: list[str]
) -> tuple[list[float] | None, list[float] | None]:
    """(item vector, audience vector): the means over the most rated trained movies that have all of
    `genres`, or any of them when fewer than MIN_PEERS have all, or every trained movie without genres."""
    hits: list[dict] = []
    for match_all_genres in (True, False) if genres else (True,):
        body = queries.genre_peers_body(genres, match_all_genres=match_all_genres, size=newmovie.MAX_PEERS)
        hits = (await es.search(index=movies_index, body=body))["hits"]["hits"]
        if len(hits) >= newmovie.MIN_PEERS:
            break
    items = [h["_source"]["item_vector"] for h in hits if h["_source"].get("item_vector")]
    audiences = [h["_source"]["audience_vector"] for h in hits if h["_source"].get("audience_vector")]
    return newmovie.content_vector(items), newmovie.content_vector(audiences)


async def content_document(
    es: AsyncElasticsearch, movies_index: str, movie: NewMovie, movie_id: int, version: str
) -> dict:
    item, audience = await content_vectors(es, movies_index, movie.genres)
    return newmovie.movie_document(movie, movie_id, version, item_vector=item, audience_vector=audience)


# ---- the item fold-in ------------------------------------------------------------------------


async def movie_ratings(es: AsyncElasticsearch, names: IndexNames, movie_id: int) -> dict[int, float]:
    """Every stored rating of the movie in the serving version: user_id -> rating."""
    found: dict[int, float] = {}
    query = {"query": queries.movie_ratings_query(movie_id)}
    async for hit in async_scan(es, index=names.ratings, query=query, _source=["user_id", "rating"], size=2000):
        found[int(hit["_source"]["user_id"])] = float(hit["_source"]["rating"])
    return found


async def on_rating(
    es: AsyncElasticsearch,
    names: IndexNames,
    model: ModelCard,
    movie_id: int,
    *,
    user_id: int | None = None,
    rating: float | None = None,
) -> str | None:
    """Refold an added movie's item vector after a rating of it was stored (`rating`) or removed (None).

    The write path calls this after every rating write; for a trained movie it returns at once (no I/O).
    `user_id`/`rating` name the write just made, so a rating not yet visible to search still counts.
    Returns the movie's vector source afterwards (None: not an added movie, or nothing changed).
    """
    if not newmovie.is_added_id(movie_id):
        return None
    if model.implicit and model.user_gram is None:
        log.info(
            "model %s has no user Gram matrix: movie %s keeps its vector until the next run", model.version, movie_id
        )
        return None
    rated = await movie_ratings(es, names, movie_id)
    if user_id is not None:
        if rating is None:
            rated.pop(user_id, None)
        else:
            rated[user_id] = rating
    vector = await _fold_in_item(es, names, model, rated)
    try:
        current = await es.get(index=names.movies, id=str(movie_id), source_includes=["genres", "vector_source"])
    except NotFoundError:
        return None
    if vector is None:  # no rater with a vector (left): back to the content vector
        if current["_source"].get("vector_source") != VectorSource.FOLD_IN:
            return current["_source"].get("vector_source")
        genres = current["_source"].get("genres", [])
        item, _ = await content_vectors(es, current["_index"], genres)
        update = {"item_vector": item, "vector_source": newmovie.CONTENT if item else None}
    else:
        update = {"item_vector": vector, "vector_source": VectorSource.FOLD_IN.value}
    # A partial update (no script): other fields (the write path's live statistics) are left as they are.
    await es.update(index=current["_index"], id=str(movie_id), doc=update, refresh=True, retry_on_conflict=8)
    return update["vector_source"]


async def _fold_in_item(
    es: AsyncElasticsearch, names: IndexNames, model: ModelCard, rated: dict[int, float]
) -> list[float] | None:
    if not rated:
        return None
    users = list(rated)
    docs = (await es.mget(index=names.users, ids=[str(u) for u in users], source_includes=["user_vector"]))["docs"]
    vectors, values = [], []
    for doc, user in zip(docs, users, strict=True):
        vec = doc.get("_source", {}).get("user_vector") if doc.get("found") else None
        if vec:  # a rater without a vector (no consent, or none yet) carries no signal for the model
            vectors.append(vec)
            values.append(rated[user])
    if not vectors:
        return None
    solved = fold_in_item(
        np.array(vectors),
        values,
        reg_param=model.reg_param,
        implicit=model.implicit,
        alpha=model.alpha,
        gram=model.user_gram,
    )
    return [float(x) for x in solved]


# ---- what the added movies' vectors do to the user fold-in -------------------------------------


async def user_gram_drift(es: AsyncElasticsearch, names: IndexNames, model: ModelCard) -> GramDrift | None:
    """The drift of the served item Gram (YtY of the trained items) from the one that also counts the added
    movies' fold-in vectors, which the user fold-in leaves out until the next run; None for the explicit model
    (its user step has no Gram) or a card without one. One scan of the (few) folded-in movies."""
    if not model.implicit or model.gram is None:
        return None
    query = {"query": queries.folded_in_movies_query()}
    vectors = [
        hit["_source"]["item_vector"]
        async for hit in async_scan(es, index=names.movies, query=query, _source=["item_vector"], size=1000)
    ]
    rank = model.gram.shape[0]
    return gram_drift(model.gram, np.array(vectors, dtype=np.float64).reshape(-1, rank), reg_param=model.reg_param)
