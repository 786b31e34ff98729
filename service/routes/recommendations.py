from __future__ import annotations

from typing import Annotated, Literal

from elasticsearch import AsyncElasticsearch
from fastapi import APIRouter, Query, Request

from movierec.search import movies, recommend
from movierec.search.indices import IndexNames
from movierec.search.queries import MovieFilter
from movierec.search.title_cache import TitleResolutions
from movierec.service.deps import Diversity, EsDep, NamesDep
from movierec.service.schemas import (
    MAX_GENRES,
    MAX_MIN_RATINGS,
    Filters,
    Genre,
    RecommendationRequest,
    RecommendationResponse,
    SearchText,
    Year,
)

router = APIRouter(tags=["recommendations"])


def to_filter(filters: Filters) -> MovieFilter:
    return MovieFilter(
        genres_any=tuple(filters.genres),
        genres_none=tuple(filters.exclude_genres),
        year_min=filters.year_min,
        year_max=filters.year_max,
        min_ratings=filters.min_ratings,
    )


async def recommend_titles(
    es: AsyncElasticsearch, names: IndexNames, request: RecommendationRequest, titles: TitleResolutions
) -> RecommendationResponse:
    flt = to_filter(request.filters)
    if request.title:
        seed, recs = await recommend.for_title(
            es,
            names,
            request.title,
            k=request.k,
            mode=request.mode,
            flt=flt,
            diversity=request.diversity,
            resolutions=titles,
        )
        return RecommendationResponse(
            movie=seed.movie, alternatives=seed.alternatives, mode=request.mode, recommendations=recs
        )
    seeds = [await movies.resolve_title(es, names, t) for t in request.titles or []]
    recs = await recommend.for_movies(es, names, seeds, k=request.k, flt=flt, diversity=request.diversity)
    return RecommendationResponse(movies=[s.movie for s in seeds], mode="audience", recommendations=recs)


@router.get("/recommendations", response_model=RecommendationResponse)
async def recommendations_for_title(
    http: Request,
    es: EsDep,
    names: NamesDep,
    title: Annotated[SearchText, Query(min_length=1, examples=["toy story"])],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["audience", "similar"] = "audience",
    genres: Annotated[list[Genre] | None, Query(max_length=MAX_GENRES)] = None,
    year_min: Annotated[Year | None, Query()] = None,
    year_max: Annotated[Year | None, Query()] = None,
    min_ratings: Annotated[int | None, Query(ge=0, le=MAX_MIN_RATINGS)] = None,
    diversity: Diversity = 0.0,
) -> RecommendationResponse:
    """Find the movie (typo-tolerant), then kNN over item vectors with its audience vector."""
    filters = Filters(genres=genres or [], year_min=year_min, year_max=year_max, min_ratings=min_ratings)
    request = RecommendationRequest(title=title, k=k, mode=mode, filters=filters, diversity=diversity)
    return await recommend_titles(es, names, request, http.app.state.titles)


@router.post("/recommendations", response_model=RecommendationResponse)
async def recommendations_post(
    http: Request, es: EsDep, names: NamesDep, request: RecommendationRequest
) -> RecommendationResponse:
    """One liked title, or several (their audience vectors are averaged), with filters."""
    return await recommend_titles(es, names, request, http.app.state.titles)
