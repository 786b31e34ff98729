"""Finding movies: title search, title lookup with alternatives, autocomplete, by id."""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch, NotFoundError

from movierec.errors import NotFound
from movierec.search import added_movies, queries
from movierec.search.indices import IndexNames
from movierec.search.title_cache import KEY_FIELDS, DocVersion, doc_version, is_exact

VECTOR_FIELDS = ("item_vector", "audience_vector")
VECTOR_SOURCE = [*queries.MOVIE_SOURCE, *VECTOR_FIELDS]
# A resolving title search also returns the normalised titles, to tell an exact match (title_cache.py).
RESOLVE_SOURCE = [*queries.MOVIE_SOURCE, *KEY_FIELDS]
ALTERNATIVES = 4
# A candidate within this fraction of the best score is a real alternative, not noise.
ALTERNATIVE_SCORE_RATIO = 0.6


class MovieNotFound(NotFound):
    """No movie for a title (with spelling suggestions) or for an id."""

    def __init__(self, query: str, suggestions: list[dict] | None = None, *, by_id: bool = False) -> None:
        self.query = query
        self.suggestions = suggestions or []
        self.extra = {} if by_id else {"suggestions": self.suggestions}
        super().__init__(f"no movie with id {query}" if by_id else f"no movie matches {query!r}")


def movie_hit(hit: dict) -> dict:
    src = hit["_source"]
    return {
        "movie_id": src["movie_id"],
        "title": src["title"],
        "year": src.get("year"),
        "genres": src.get("genres", []),
        "score": hit.get("_score"),
        "avg_rating": src.get("avg_rating"),
        "num_ratings": src.get("num_ratings", 0),
    }


async def search_titles(es: AsyncElasticsearch, names: IndexNames, query: str, *, limit: int = 10) -> list[dict]:
    resp = await es.search(index=names.movies, body=queries.title_search_body(query, limit=limit))
    return [movie_hit(hit) for hit in resp["hits"]["hits"]]


@dataclass
class ResolvedMovie:
    movie: dict
    alternatives: list[dict]
    item_vector: list[float] | None
    audience_vector: list[float] | None
    exact: bool = False  # the query names this movie exactly (title_cache.is_exact)
    version: DocVersion | None = None  # of the document the vectors were read from (title_cache.py)


def resolved(title: str, hits: list[dict]) -> ResolvedMovie:
    """The best hit with the close alternatives (within ALTERNATIVE_SCORE_RATIO of its score)."""
    best = hits[0]
    floor = (best.get("_score") or 0) * ALTERNATIVE_SCORE_RATIO
    alternatives = [movie_hit(h) for h in hits[1:] if (h.get("_score") or 0) >= floor]
    src = best["_source"]
    exact = is_exact(title, src)
    vectors = src.get("item_vector"), src.get("audience_vector")
    return ResolvedMovie(movie_hit(best), alternatives, *vectors, exact, doc_version(best))


async def resolve_title(
    es: AsyncElasticsearch, names: IndexNames, title: str, *, with_vectors: bool = True
) -> ResolvedMovie:
    """The movie a user meant by `title`, with the close alternatives; MovieNotFound with suggestions.

    With `with_vectors` the seed's vectors come back in the same round trip (asked for by name: the
    movies index leaves them out of `_source` otherwise)."""
    source = [*RESOLVE_SOURCE, *VECTOR_FIELDS] if with_vectors else RESOLVE_SOURCE
    body = queries.title_search_body(title, limit=ALTERNATIVES + 1, source=source, versions=with_vectors)
    hits = (await es.search(index=names.movies, body=body))["hits"]["hits"]
    if not hits:
        raise MovieNotFound(title, await suggest(es, names, title, size=5))
    return resolved(title, hits)


async def get_movie(es: AsyncElasticsearch, names: IndexNames, movie_id: int, *, with_vectors: bool = False) -> dict:
    """The movie document; its vectors only when asked for.

    The movies index leaves vectors out of `_source` (Elasticsearch 9.2+ default, kept: see
    mappings/movies.json), so they are requested explicitly (`_source_exclude_vectors=false`).
    """
    try:
        if with_vectors:
            doc = await es.get(index=names.movies, id=str(movie_id), source_exclude_vectors=False)
        else:
            doc = await es.get(index=names.movies, id=str(movie_id), source_excludes=[*VECTOR_FIELDS, "suggest"])
    except NotFoundError:
        # A movie added through the API that a later data file also holds answers as that file's movie.
        target = await added_movies.merged_into(es, names, movie_id)
        if target is None:
            raise MovieNotFound(str(movie_id), by_id=True) from None
        return await get_movie(es, names, target, with_vectors=with_vectors)
    return doc["_source"]


async def suggest(es: AsyncElasticsearch, names: IndexNames, prefix: str, *, size: int = 10) -> list[dict]:
    if not queries.normalize(prefix):
        return []
    resp = await es.search(index=names.movies, body=queries.suggest_body(prefix, size=size))
    options = resp.get("suggest", {}).get("titles", [{}])[0].get("options", [])
    return [
        {
            "movie_id": opt["_source"]["movie_id"],
            "title": opt["_source"]["title"],
            "year": opt["_source"].get("year"),
            "num_ratings": opt["_source"].get("num_ratings", 0),
        }
        for opt in options
    ]
