"""The explore view's data: the dashboard's key charts from Elasticsearch aggregations, as JSON or SVG."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from movierec.search import explore
from movierec.service import charts
from movierec.service.deps import EsDep, NamesDep

router = APIRouter(prefix="/explore", tags=["explore"])
Chart = Literal["ratings", "activity", "timeline", "genres", "embedding"]
Limit = Annotated[
    int, Query(ge=10, le=explore.MAP_MAX, description="embedding map: most rated movies shown", examples=[2000])
]


def _examples(*examples: dict) -> dict:
    return {"json_schema_extra": {"examples": list(examples)}}


class StarCount(BaseModel):
    stars: float
    ratings: int


class RatingsChart(BaseModel):
    model_config = _examples(
        {
            "stars": [{"stars": 0.5, "ratings": 1370}, {"stars": 4.0, "ratings": 26818}],
            "total": 100836,
            "mean": 3.5016,
            "share_half_stars": 0.3015,
        }
    )

    stars: list[StarCount]
    total: int
    mean: float | None
    share_half_stars: float


class ActivityChart(BaseModel):
    model_config = _examples(
        {
            "users": 610,
            "median_ratings_per_user": 70.5,
            "max_ratings_per_user": 2698,
            "per_user": [{"ratings": "20-49", "users": 222}, {"ratings": "1000+", "users": 13}],
            "levels": {"regular": 227, "heavy": 174},
            "years": [{"year": 2000, "ratings": 10061, "users": 56, "mean_rating": 3.39}],
        }
    )

    users: int
    median_ratings_per_user: float | None
    max_ratings_per_user: float | None
    per_user: list[dict] = Field(description="users per bucket of ratings given")
    levels: dict[str, int] = Field(description="users per activity level")
    years: list[dict] = Field(description="ratings, active users and mean rating per calendar year")


class GenreRow(BaseModel):
    genre: str
    ratings: int
    mean: float
    low: float = Field(description="95% interval of the mean, ratings taken as independent")
    high: float


class GenresChart(BaseModel):
    model_config = _examples(
        {"genres": [{"genre": "Film-Noir", "ratings": 870, "mean": 3.92, "low": 3.861, "high": 3.979}]}
    )

    genres: list[GenreRow] = Field(description="highest mean first")


class MapPoint(BaseModel):
    movie_id: int
    title: str
    year: int | None = None
    genres: list[str] = []
    genre: str = Field(description="main genre (the most specific one)")
    num_ratings: int
    avg_rating: float | None = None
    x: float
    y: float


class EmbeddingChart(BaseModel):
    model_config = _examples(
        {
            "limit": 2000,
            "total": 9724,
            "shown": 2000,
            "truncated": True,
            "points": [
                {
                    "movie_id": 356,
                    "title": "Forrest Gump",
                    "year": 1994,
                    "genres": ["Comedy", "Drama", "Romance", "War"],
                    "genre": "War",
                    "num_ratings": 329,
                    "avg_rating": 4.16,
                    "x": -0.0285,
                    "y": 0.0103,
                }
            ],
        }
    )

    limit: int
    total: int = Field(description="movies with a vector: when above `shown`, the map shows the most rated")
    shown: int
    truncated: bool
    points: list[MapPoint]


class DemoUser(BaseModel):
    user_id: int
    num_ratings: int | None = None
    avg_rating: float | None = None
    favourite_genres: list[str] | None = None


class DemoUsers(BaseModel):
    model_config = _examples(
        {"users": [{"user_id": 1, "num_ratings": 232, "avg_rating": 4.37, "favourite_genres": ["Adventure"]}]}
    )

    users: list[DemoUser]


@router.get("/ratings", response_model=RatingsChart)
async def ratings(es: EsDep, names: NamesDep) -> dict:
    """Ratings per star value (half stars included), the mean and the share of half stars."""
    return await explore.ratings(es, names)


@router.get("/activity", response_model=ActivityChart)
async def activity(es: EsDep, names: NamesDep) -> dict:
    """Users by number of ratings, activity levels, and ratings / active users per year."""
    return await explore.activity(es, names)


@router.get("/genres", response_model=GenresChart)
async def genres(es: EsDep, names: NamesDep) -> dict:
    """Mean rating per genre with its 95% interval and the number of ratings behind it."""
    return {"genres": await explore.genres(es, names)}


@router.get("/embedding", response_model=EmbeddingChart)
async def embedding(es: EsDep, names: NamesDep, limit: Limit = explore.MAP_LIMIT) -> dict:
    """The 2-D projection of the item vectors for the `limit` most rated movies; `total` says how many exist."""
    return await explore.embedding(es, names, limit=limit)


@router.get("/demo-users", response_model=DemoUsers)
async def demo_users(es: EsDep, names: NamesDep) -> dict:
    """A few MovieLens users with different favourite genres, for the page's demo."""
    return {"users": await explore.demo_users(es, names)}


def svg_for(chart: Chart, data: dict | list) -> str:
    if chart == "ratings":
        rows = data["stars"]
        return charts.bar_chart(
            "c-ratings",
            "Ratings by number of stars",
            [f"{r['stars']:g}" for r in rows],
            [r["ratings"] for r in rows],
            x_title="stars",
            y_title="ratings",
            desc=f"{data['total']:,} ratings, mean {data['mean'] or 0:.2f}; "
            f"{data['share_half_stars']:.0%} are half stars. Whole stars are much more common than half stars.",
        )
    if chart == "activity":
        rows = data["per_user"]
        return charts.bar_chart(
            "c-activity",
            "Users by number of ratings given",
            [r["ratings"] for r in rows],
            [r["users"] for r in rows],
            x_title="ratings given",
            y_title="users",
            desc=f"{data['users']:,} users; the median user gave {data['median_ratings_per_user'] or 0:.0f} ratings, "
            f"the most active {data['max_ratings_per_user'] or 0:,.0f}.",
        )
    if chart == "timeline":
        years = data["years"]
        return charts.line_chart(
            "c-timeline",
            "Ratings per year",
            [y["year"] for y in years],
            [y["ratings"] for y in years],
            x_title="year the rating was given",
            y_title="ratings",
            desc="Ratings given per calendar year: " + ", ".join(f"{y['year']}: {y['ratings']:,}" for y in years),
        )
    if chart == "genres":
        return charts.bar_chart(
            "c-genres",
            "Mean rating by genre (95% interval)",
            [r["genre"] for r in data],
            [r["mean"] for r in data],
            low=[r["low"] for r in data],
            high=[r["high"] for r in data],
            y_min=2.5,
            y_max=4.5,
            rotate=True,
            x_title="genre",
            y_title="mean rating (stars)",
            desc="Highest: "
            + ", ".join(f"{r['genre']} {r['mean']:.2f}" for r in data[:3])
            + "; lowest: "
            + ", ".join(f"{r['genre']} {r['mean']:.2f}" for r in data[-3:]),
        )
    shown = f"the {data['shown']:,} most rated of {data['total']:,} movies"
    return charts.scatter(
        "c-embedding",
        "Movie embedding map",
        data["points"],
        desc=f"2-D projection of the ALS item factors for {shown}; colour is the main genre, size the number "
        "of ratings; hover a point for its title.",
    )


# A page asset (image/svg+xml), so not in the OpenAPI document; the JSON endpoints above are.
@router.get("/charts/{chart}.svg", response_class=Response, include_in_schema=False)
async def chart_svg(chart: Chart, es: EsDep, names: NamesDep, limit: Limit = explore.MAP_LIMIT) -> Response:
    """A chart drawn on the server as accessible SVG (title, description, a tooltip per mark)."""
    if chart == "ratings":
        data: dict | list = await explore.ratings(es, names)
    elif chart in ("activity", "timeline"):
        data = await explore.activity(es, names)
    elif chart == "genres":
        data = await explore.genres(es, names)
    else:
        data = await explore.embedding(es, names, limit=limit)
    return Response(svg_for(chart, data), media_type="image/svg+xml", headers={"Cache-Control": "max-age=60"})
