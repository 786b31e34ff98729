"""Response and request models: what /docs shows."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from movierec.search.domain import YEAR_MAX, YEAR_MIN
from movierec.search.text import has_content

# Bounds that keep values inside Elasticsearch's integer fields (the schema fuzz test found 2**31).
MAX_MIN_RATINGS = 10_000_000


def _require_content(value: str) -> str:
    if not has_content(value):
        raise ValueError("must contain letters or digits")
    return value


# What a user types to find a movie: text with letters or digits, else 422 (query parameters and bodies alike).
SearchText = Annotated[str, AfterValidator(_require_content)]
# A release year filter.
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)]


# Examples for /docs, taken from the API's answers on ml-latest-small.
TOY_STORY = {
    "movie_id": 1,
    "title": "Toy Story",
    "year": 1995,
    "genres": ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
    "score": 180.47,
    "avg_rating": 3.92,
    "num_ratings": 215,
}
TOY_STORY_2 = {
    "movie_id": 3114,
    "title": "Toy Story 2",
    "year": 1999,
    "genres": ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
    "score": 138.68,
    "avg_rating": 3.86,
    "num_ratings": 97,
}
WILLY_WONKA = {
    "movie_id": 1073,
    "title": "Willy Wonka & the Chocolate Factory",
    "year": 1971,
    "genres": ["Children", "Comedy", "Fantasy", "Musical"],
    "score": 1.24,
    "avg_rating": 3.87,
    "num_ratings": 119,
}


class Movie(BaseModel):
    model_config = {"json_schema_extra": {"examples": [TOY_STORY]}}

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
    model_config = {
        "json_schema_extra": {
            "examples": [{"query": "toy stroy", "results": [TOY_STORY, TOY_STORY_2], "suggestions": []}]
        }
    }

    query: str
    results: list[Movie]
    suggestions: list[Suggestion] = Field(
        default_factory=list, description="titles starting like the query, when nothing matched"
    )


class SuggestResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "prefix": "toy st",
                    "suggestions": [
                        {k: TOY_STORY[k] for k in ("movie_id", "title", "year", "num_ratings")},
                        {k: TOY_STORY_2[k] for k in ("movie_id", "title", "year", "num_ratings")},
                    ],
                }
            ]
        }
    }

    prefix: str
    suggestions: list[Suggestion]


class Filters(BaseModel):
    genres: list[str] = Field(default_factory=list, description="keep movies with any of these genres")
    exclude_genres: list[str] = Field(default_factory=list)
    year_min: Year | None = None
    year_max: Year | None = None
    min_ratings: int | None = Field(None, ge=0, le=MAX_MIN_RATINGS)


class MovieDetail(BaseModel):
    """The indexed movie record without its vectors."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "movie_id": 1,
                    "title": "Toy Story",
                    "original_title": "Toy Story",
                    "alt_titles": [],
                    "year": 1995,
                    "genres": ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
                    "imdb_id": "tt0114709",
                    "tmdb_id": "862",
                    "num_ratings": 215,
                    "avg_rating": 3.92,
                    "damped_rating": 3.9,
                    "popularity": 5.38,
                    "audience_size": 147,
                    "embedding_x": -0.0098,
                    "embedding_y": 0.0372,
                    "model_version": "v20261125010216-c75e",
                }
            ]
        }
    }

    movie_id: int
    title: str
    original_title: str | None = None
    alt_titles: list[str] = []
    year: int | None = None
    genres: list[str] = []
    imdb_id: str | None = None
    tmdb_id: str | None = None
    num_ratings: int = 0
    avg_rating: float | None = None
    damped_rating: float | None = Field(None, description="mean rating shrunk towards the global mean for few ratings")
    popularity: float | None = None
    audience_size: int | None = Field(None, description="users who liked it (the audience vector's support)")
    embedding_x: float | None = Field(None, description="2-D projection of the item vector (dashboards)")
    embedding_y: float | None = None
    model_version: str | None = None


class RecommendationResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "movie": TOY_STORY,
                    "alternatives": [TOY_STORY_2],
                    "mode": "audience",
                    "recommendations": [WILLY_WONKA],
                }
            ]
        }
    }

    movie: Movie | None = None
    movies: list[Movie] = []
    alternatives: list[Movie] = []
    mode: str = "audience"
    recommendations: list[Movie]


class UserRecommendationResponse(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"user_id": 1, "source": "personal", "recommendations": [WILLY_WONKA]}]}
    }

    user_id: int
    source: str = Field(description="`personal` (user vector) or `popular` (see `reason`)")
    reason: str | None = Field(None, description="why not personal: no consent, or no ratings in the model yet")
    recommendations: list[Movie]


class Health(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "ok",
                    "elasticsearch": "green",
                    "indices": {"movies": 9742, "users": 610, "ratings": 100836},
                    "model_version": "v20261125010216-c75e",
                }
            ]
        }
    }

    status: str
    elasticsearch: str
    indices: dict[str, int] = {}
    model_version: str | None = None
