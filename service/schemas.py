"""Every request and response model of the API (what /docs shows); routes define none of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from movierec.search.domain import YEAR_MAX, YEAR_MIN, VectorSource
from movierec.search.newmovie import TITLE_MAX_CHARS
from movierec.search.text import normalize
from movierec.service.deps import DIVERSITY_HELP

if TYPE_CHECKING:
    from movierec.search.ratings import RatingResult

# Bounds that keep values inside Elasticsearch's integer fields (the schema fuzz test found 2**31).
MAX_MIN_RATINGS = 10_000_000


MAX_TITLE_CHARS = 200  # after normalisation: what reaches Elasticsearch
MAX_RAW_TITLE_CHARS = 1000  # before it, so a huge string is refused before any work on it
MAX_TITLES = 20
MAX_GENRES = 20


def _require_content(value: str) -> str:
    norm = normalize(value)
    if not norm:
        raise ValueError("must contain letters or digits (in any script)")
    if len(norm) > MAX_TITLE_CHARS:
        raise ValueError(f"at most {MAX_TITLE_CHARS} characters once normalised")
    return value


# What a user types to find a movie: text with letters or digits of any script, at most 200 characters once
# normalised, else 422 (query parameters and bodies alike), checked before any query.
SearchText = Annotated[str, StringConstraints(max_length=MAX_RAW_TITLE_CHARS), AfterValidator(_require_content)]
Genre = Annotated[str, StringConstraints(max_length=50)]
# Numbers in bodies are strict: `true` is not a rating and "4.5" is not a number; never NaN or infinite.
StrictInt = Annotated[int, Field(strict=True)]
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class Body(BaseModel):
    """Base of request bodies: no NaN or infinity anywhere (the middleware refuses them in JSON too)."""

    model_config = ConfigDict(allow_inf_nan=False)


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


class Filters(Body):
    genres: list[Genre] = Field(
        default_factory=list, max_length=MAX_GENRES, description="keep movies with any of these genres"
    )
    exclude_genres: list[Genre] = Field(default_factory=list, max_length=MAX_GENRES)
    year_min: Annotated[Year, Field(strict=True)] | None = None
    year_max: Annotated[Year, Field(strict=True)] | None = None
    min_ratings: StrictInt | None = Field(None, ge=0, le=MAX_MIN_RATINGS)


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
    vector_source: str | None = Field(
        None, description="`als`: trained; an added movie's `content` (genre peers), then `fold-in` (its raters)"
    )
    source: str | None = Field(None, description="`movielens` (the data files) or `api` (POST /movies)")


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


class Liveness(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"status": "alive"}]}}

    status: str = Field(description="always `alive` when the process answers")


class GramDriftOut(BaseModel):
    items: int = Field(description="added movies with a fold-in vector (the user fold-in's YtY lacks them)")
    relative_spectral: float = Field(description="||sum y y^T|| / ||YtY||, spectral norms")
    relative_frobenius: float = Field(description="the same in Frobenius norms")
    user_bound: float = Field(
        description="no user's folded-in vector differs from the exact one by more than this fraction of its norm"
    )


class Health(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "ok",
                    "elasticsearch": "green",
                    "indices": {"movies": 9742, "users": 610, "ratings": 100836},
                    "model_version": "v20261125010216-c75e",
                    "elasticsearch_version": "9.5.3",
                }
            ]
        }
    }

    status: str = Field(description="`ok`; else 503 with `red`, `no data indexed`, `unavailable`, `incompatible`")
    elasticsearch: str
    reason: str | None = Field(None, description="why not ok, when the cluster is red")
    indices: dict[str, int] = {}
    model_version: str | None = None
    elasticsearch_version: str | None = Field(None, description="the server's; its major must be the client's")
    security: str | None = Field(None, description="Elasticsearch security `on` or `off` (as the server reports)")
    user_fold_in_drift: GramDriftOut | None = Field(
        None, description="the implicit user fold-in's item Gram vs one that counts the added movies' vectors"
    )
    warnings: list[str] = []


class RecommendationRequest(Body):
    title: SearchText | None = Field(None, examples=["toy story"])
    titles: list[SearchText] | None = Field(None, max_length=MAX_TITLES, examples=[["toy story", "shrek"]])
    k: StrictInt = Field(10, ge=1, le=100)
    mode: Literal["audience", "similar"] = "audience"
    filters: Filters = Field(default_factory=Filters)
    diversity: FiniteFloat = Field(0.0, ge=0.0, le=1.0, description=DIVERSITY_HELP, examples=[0.5])

    @model_validator(mode="after")
    def _one_seed(self) -> RecommendationRequest:
        if not self.title and not self.titles:
            raise ValueError("give `title` or a non-empty `titles` list")
        return self


class RatingIn(Body):
    movie_id: StrictInt = Field(ge=1, le=2**31 - 1, examples=[1])
    rating: FiniteFloat = Field(
        ge=0.5, le=5.0, multiple_of=0.5, examples=[4.5], description="0.5 to 5.0 stars, in half stars"
    )


class RatingOut(BaseModel):
    user_id: int
    movie_id: int
    rating: float = Field(description="the rating stored, or the one deleted")
    deleted: bool = False
    num_ratings: int = Field(description="the user's ratings now")
    vector_source: VectorSource = Field(
        description="`fold-in`: recomputed from every rating; `none`: no rating left; `no-consent`: withheld"
    )
    model_version: str

    @classmethod
    def of(cls, result: RatingResult, *, deleted: bool = False) -> RatingOut:
        return cls(
            user_id=result.user_id,
            movie_id=result.movie_id,
            rating=result.rating,
            deleted=deleted,
            num_ratings=result.num_ratings,
            vector_source=result.vector_source,
            model_version=result.model_version,
        )


class BulkEventResult(BaseModel):
    line: int | None = Field(None, description="NDJSON line, or position in the JSON array (1-based)")
    event_id: str | None = None
    outcome: Literal["applied", "replaced", "duplicate", "rejected"]
    reason: str | None = Field(None, description="why the event was rejected")
    previous: float | None = Field(None, description="the rating it replaced")


class BulkOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "events": 2,
                    "applied": 1,
                    "replaced": 0,
                    "duplicate": 0,
                    "rejected": 1,
                    "users": 1,
                    "results": [
                        {"line": 1, "event_id": "e-1", "outcome": "applied"},
                        {"line": 2, "event_id": "e-2", "outcome": "rejected", "reason": "no movie with id 99999999"},
                    ],
                }
            ]
        }
    }

    events: int
    applied: int
    replaced: int
    duplicate: int
    rejected: int
    users: int = Field(description="users folded in (once each, however many of their events the batch held)")
    results: list[BulkEventResult] = Field(description="one per event, in the order sent")


class ErasureOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": 1,
                    "ratings_deleted": 464,
                    "user_documents_deleted": 2,
                    "indices_searched": [
                        "movierec-ratings-v20261125010216-c75e",
                        "movierec-ratings-v20261125022602-728b",
                        "movierec-users-v20261125010216-c75e",
                        "movierec-users-v20261125022602-728b",
                    ],
                    "erased_at": 1764037200000,
                }
            ]
        }
    }

    user_id: int
    ratings_deleted: int = Field(description="rating documents removed, over every kept version")
    user_documents_deleted: int
    indices_searched: list[str]
    erased_at: int = Field(description="epoch milliseconds; later pipeline runs drop the user's older rows")


class UserExport(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": 1,
                    "exported_at": 1764037200000,
                    "profile": {"user_id": 1, "num_ratings": 232, "avg_rating": 4.37, "user_vector": [0.12, -0.03]},
                    "consent": {"user_id": 1, "personalisation": True, "updated_at": 1764037000000},
                    "ratings": [{"user_id": 1, "movie_id": 1, "rating": 4.0, "date": 964982703, "source": "movielens"}],
                    "deletions": [{"kind": "rating", "user_id": 1, "movie_id": 3, "date": 1764037100000}],
                }
            ]
        }
    }

    user_id: int
    exported_at: int = Field(description="epoch milliseconds, like every time movierec stamps")
    profile: dict | None = Field(description="the user document of the serving version, vector included")
    consent: dict | None = Field(None, description="the recorded consent choice, if any")
    ratings: list[dict] = Field(description="every rating; `date` in epoch seconds, as in MovieLens")
    deletions: list[dict] = Field(description="ratings the user deleted (kept so retraining honours them)")


class ConsentIn(Body):
    personalisation: bool = Field(
        strict=True, examples=[False], description="may a taste profile (vector) be computed and used?"
    )


class ConsentOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"user_id": 1, "personalisation": False, "recorded": True, "updated_at": 1764037200000}]
        }
    }

    user_id: int
    personalisation: bool
    recorded: bool = Field(description="false: no choice recorded, the deployment's default applies")
    updated_at: int | None = Field(None, description="epoch milliseconds")


class MovieIn(Body):
    """A movie to add (POST /movies). The title is parsed as the pipeline parses movies.csv: "Matrix, The"
    becomes "The Matrix", "Seven (a.k.a. Se7en)" gets an alternative title, "Heat (1995)" a year."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS, examples=["Dune: Part Three"])
    year: StrictInt | None = Field(None, examples=[2026], description=f"release year, {YEAR_MIN} to {YEAR_MAX}")
    genres: list[Genre] = Field(
        default_factory=list, max_length=MAX_GENRES, examples=[["Sci-Fi", "Adventure"]], description="MovieLens genres"
    )
    new_genres: list[Genre] = Field(
        default_factory=list,
        max_length=MAX_GENRES,
        description="genres not in the MovieLens list that `genres` may use (named twice, so a typo is not a genre)",
    )
    imdb_id: str | None = Field(None, max_length=20, examples=["tt31378509"])
    tmdb_id: str | None = Field(None, max_length=20, examples=["1170608"])


class MovieAdded(BaseModel):
    movie: MovieDetail
    vector_source: str | None = Field(
        description="`content`: the mean vector of trained movies sharing its genres; none when no such movie"
    )
    versions: list[str] = Field(description="every kept index version it was written into (so a rollback keeps it)")
