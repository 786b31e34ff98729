"""The explore view's data: the dashboard's key charts from Elasticsearch aggregations, as JSON or SVG."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from movierec.search import explore
from movierec.service import charts
from movierec.service.deps import EsDep, NamesDep

router = APIRouter(prefix="/explore", tags=["explore"])
Chart = Literal["ratings", "activity", "timeline", "genres", "embedding"]
Limit = Annotated[int, Query(ge=10, le=explore.MAP_MAX, description="embedding map: most rated movies shown")]


@router.get("/ratings")
async def ratings(es: EsDep, names: NamesDep) -> dict:
    """Ratings per star value (half stars included), the mean and the share of half stars."""
    return await explore.ratings(es, names)


@router.get("/activity")
async def activity(es: EsDep, names: NamesDep) -> dict:
    """Users by number of ratings, activity levels, and ratings / active users per year."""
    return await explore.activity(es, names)


@router.get("/genres")
async def genres(es: EsDep, names: NamesDep) -> list[dict]:
    """Mean rating per genre with its 95% interval and the number of ratings behind it."""
    return await explore.genres(es, names)


@router.get("/embedding")
async def embedding(es: EsDep, names: NamesDep, limit: Limit = explore.MAP_LIMIT) -> dict:
    """The 2-D projection of the item vectors for the `limit` most rated movies; `total` says how many exist."""
    return await explore.embedding(es, names, limit=limit)


@router.get("/demo-users")
async def demo_users(es: EsDep, names: NamesDep) -> list[dict]:
    """A few MovieLens users with different favourite genres, for the page's demo."""
    return await explore.demo_users(es, names)


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


@router.get("/charts/{chart}.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
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
