"""Response and request models: what /docs shows."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Bounds that keep values inside Elasticsearch's integer fields (the schema fuzz test found 2**31).
MAX_MIN_RATINGS = 10_000_000


class Movie(BaseModel):
    movie_id: int
    title: str
    year: int | None = None
    genres: list[str] = []
    score: float | None = None
    avg_rating: float | None = None
    num_ratings: int = 0


class Suggestion(BaseModel):
    movie_id: int
    title: str
    year: int | None = None
    num_ratings: int = 0


class SearchResponse(BaseModel):
    query: str
    results: list[Movie]
    suggestions: list[Suggestion] = Field(default_factory=list, description="titles starting like the query, when nothing matched")


class SuggestResponse(BaseModel):
    prefix: str
    suggestions: list[Suggestion]


class Filters(BaseModel):
    genres: list[str] = Field(default_factory=list, description="keep movies with any of these genres")
    exclude_genres: list[str] = Field(default_factory=list)
    year_min: int | None = Field(None, ge=1870, le=2100)
    year_max: int | None = Field(None, ge=1870, le=2100)
    min_ratings: int | None = Field(None, ge=0, le=MAX_MIN_RATINGS)


class RecommendationResponse(BaseModel):
    movie: Movie | None = None
    movies: list[Movie] = []
    alternatives: list[Movie] = []
    mode: str = "audience"
    recommendations: list[Movie]


class UserRecommendationResponse(BaseModel):
    user_id: int
    source: str = Field(description="`personal` (user vector) or `popular` (no vector yet)")
    recommendations: list[Movie]


class Health(BaseModel):
    status: str
    elasticsearch: str
    indices: dict[str, int] = {}
    model_version: str | None = None
