from __future__ import annotations

from typing import Annotated, Literal

from elasticsearch import AsyncElasticsearch
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, model_validator

from movierec.search import movies, recommend
from movierec.search.indices import IndexNames
from movierec.search.queries import MovieFilter
from movierec.search.text import normalize
from movierec.service.deps import DIVERSITY_HELP, Diversity, EsDep, NamesDep
from movierec.service.schemas import MAX_MIN_RATINGS, Filters, RecommendationResponse

router = APIRouter(tags=["recommendations"])


class RecommendationRequest(BaseModel):
    title: str | None = Field(None, max_length=200, examples=["toy story"])
    titles: list[str] | None = Field(None, max_length=20, examples=[["toy story", "shrek"]])
    k: int = Field(10, ge=1, le=100)
    mode: Literal["audience", "similar"] = "audience"
    filters: Filters = Field(default_factory=Filters)
    diversity: float = Field(0.0, ge=0.0, le=1.0, description=DIVERSITY_HELP, examples=[0.5])

    @model_validator(mode="after")
    def _one_seed(self):
        seeds = [self.title] if self.title else (self.titles or [])
        if not seeds or any(not normalize(t) for t in seeds):
            raise ValueError("give `title` or a non-empty `titles` list, each with letters or digits")
        return self


def to_filter(filters: Filters) -> MovieFilter:
    return MovieFilter(
        genres_any=tuple(filters.genres),
        genres_none=tuple(filters.exclude_genres),
        year_min=filters.year_min,
        year_max=filters.year_max,
        min_ratings=filters.min_ratings,
    )


async def recommend_titles(
    es: AsyncElasticsearch, names: IndexNames, request: RecommendationRequest
) -> RecommendationResponse:
    flt = to_filter(request.filters)
    if request.title:
        seed, recs = await recommend.for_title(
            es, names, request.title, k=request.k, mode=request.mode, flt=flt, diversity=request.diversity
        )
        return RecommendationResponse(
            movie=seed.movie, alternatives=seed.alternatives, mode=request.mode, recommendations=recs
        )
    seeds = [await movies.resolve_title(es, names, t) for t in request.titles or []]
    recs = await recommend.for_movies(es, names, seeds, k=request.k, flt=flt, diversity=request.diversity)
    return RecommendationResponse(movies=[s.movie for s in seeds], mode="audience", recommendations=recs)


@router.get("/recommendations", response_model=RecommendationResponse)
async def recommendations_for_title(
    es: EsDep,
    names: NamesDep,
    title: Annotated[str, Query(min_length=1, max_length=200, examples=["toy story"])],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["audience", "similar"] = "audience",
    genres: Annotated[list[str] | None, Query()] = None,
    year_min: Annotated[int | None, Query(ge=1870, le=2100)] = None,
    year_max: Annotated[int | None, Query(ge=1870, le=2100)] = None,
    min_ratings: Annotated[int | None, Query(ge=0, le=MAX_MIN_RATINGS)] = None,
    diversity: Diversity = 0.0,
) -> RecommendationResponse:
    """Find the movie (typo-tolerant), then kNN over item vectors with its audience vector."""
    if not normalize(title):
        raise HTTPException(status_code=422, detail="title must contain letters or digits")
    filters = Filters(genres=genres or [], year_min=year_min, year_max=year_max, min_ratings=min_ratings)
    request = RecommendationRequest(title=title, k=k, mode=mode, filters=filters, diversity=diversity)
    return await recommend_titles(es, names, request)


@router.post("/recommendations", response_model=RecommendationResponse)
async def recommendations_post(es: EsDep, names: NamesDep, request: RecommendationRequest) -> RecommendationResponse:
    """One liked title, or several (their audience vectors are averaged), with filters."""
    return await recommend_titles(es, names, request)
