from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from movierec.search import added_movies, movies, newmovie, recommend
from movierec.service.deps import Diversity, EsDep, MovieId, NamesDep, WriteAccess
from movierec.service.schemas import (
    Movie,
    MovieAdded,
    MovieDetail,
    MovieIn,
    RecommendationResponse,
    SearchResponse,
    SearchText,
    SuggestResponse,
)

router = APIRouter(prefix="/movies", tags=["movies"])


@router.post("", response_model=MovieAdded, status_code=201, dependencies=[WriteAccess])
async def add_movie(es: EsDep, names: NamesDep, body: MovieIn) -> MovieAdded:
    """Add a movie that is not in the data files: searchable, suggestible and "similar" in the next call
    (a content vector from its genres), refolded from its raters' vectors as ratings arrive; kept by
    retrains and rollbacks. 409 with the existing movie for the same title and year."""
    movie = newmovie.new_movie(
        body.title, body.year, body.genres, new_genres=body.new_genres, imdb=body.imdb_id, tmdb=body.tmdb_id
    )
    added = await added_movies.add_movie(es, names, movie)
    return MovieAdded(movie=MovieDetail(**added.movie), vector_source=added.vector_source, versions=added.versions)


@router.get("/search", response_model=SearchResponse)
async def search_movies(
    es: EsDep,
    names: NamesDep,
    q: Annotated[SearchText, Query(min_length=1, examples=["shawshenk redemption"])],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResponse:
    """Typo-tolerant title search: articles, accents, alternative titles, a year to disambiguate."""
    results = await movies.search_titles(es, names, q, limit=limit)
    suggestions = [] if results else await movies.suggest(es, names, q, size=5)
    return SearchResponse(query=q, results=results, suggestions=suggestions)


@router.get("/suggest", response_model=SuggestResponse)
async def suggest_movies(
    es: EsDep,
    names: NamesDep,
    prefix: Annotated[str, Query(min_length=1, max_length=100, examples=["eternal sunsh"])],
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> SuggestResponse:
    """Autocomplete for a search box: titles starting with what was typed, most rated first."""
    return SuggestResponse(prefix=prefix, suggestions=await movies.suggest(es, names, prefix, size=limit))


@router.get("/{movie_id}", response_model=MovieDetail)
async def get_movie(es: EsDep, names: NamesDep, movie_id: MovieId) -> dict:
    """The movie record with its rating statistics."""
    return await movies.get_movie(es, names, movie_id)


@router.get("/{movie_id}/similar", response_model=RecommendationResponse)
async def similar_movies(
    es: EsDep,
    names: NamesDep,
    movie_id: MovieId,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["audience", "similar"] = "audience",
    diversity: Diversity = 0.0,
) -> RecommendationResponse:
    """`audience`: what people who liked this movie also liked; `similar`: nearest item vectors."""
    doc, recs = await recommend.similar_to(es, names, movie_id, k=k, mode=mode, diversity=diversity)
    return RecommendationResponse(movie=Movie(**{**doc, "score": None}), mode=mode, recommendations=recs)
