"""The web page at `/`: one HTML file, its script and style, all served by the API (works offline).

The files ship as package data (`movierec/service/static/`) and are read through importlib.resources.
The page never receives the API key: `/page/config` only says whether writes need one, and the page
then shows rating, consent and "new user" as unavailable.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from movierec.search import movies, recommend
from movierec.service.deps import EsDep, MovieId, NamesDep, SettingsDep
from movierec.service.routes.recommendations import to_filter
from movierec.service.schemas import MAX_GENRES, MAX_MIN_RATINGS, Filters, Genre, Movie, RecommendationResponse

router = APIRouter(tags=["page"])
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
# No inline script, nothing from another origin: the page works offline and a CSP can say so.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@cache
def static_text(name: str) -> str:
    return (files("movierec.service") / "static" / name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(static_text("index.html"), headers={"Content-Security-Policy": CSP})


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(status_code=404, detail="no such file")
    return Response(static_text(name), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


class PageConfig(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"writes_need_key": False, "consent_required": False}]}}

    writes_need_key: bool = Field(description="MOVIEREC_API_KEY is set: the page shows rating as unavailable")
    consent_required: bool


@router.get("/page/config", response_model=PageConfig)
async def page_config(settings: SettingsDep) -> PageConfig:
    """What the page may do here: writes need a key it never has when MOVIEREC_API_KEY is set."""
    return PageConfig(writes_need_key=bool(settings.api_key), consent_required=settings.consent_required)


@router.get("/movies/{movie_id}/recommendations", response_model=RecommendationResponse, tags=["movies"])
async def movie_recommendations(
    es: EsDep,
    names: NamesDep,
    movie_id: MovieId,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["audience", "similar"] = "audience",
    genres: Annotated[list[Genre] | None, Query(max_length=MAX_GENRES)] = None,
    year_min: Annotated[int | None, Query(ge=1870, le=2100)] = None,
    year_max: Annotated[int | None, Query(ge=1870, le=2100)] = None,
    min_ratings: Annotated[int | None, Query(ge=0, le=MAX_MIN_RATINGS)] = None,
) -> RecommendationResponse:
    """Like `/movies/{id}/similar`, with the filters of `/recommendations` (the page's movie view)."""
    doc = await movies.get_movie(es, names, movie_id, with_vectors=True)
    seed = movies.ResolvedMovie(
        Movie(**{**doc, "score": None}).model_dump(), [], doc.get("item_vector"), doc.get("audience_vector")
    )
    flt = to_filter(Filters(genres=genres or [], year_min=year_min, year_max=year_max, min_ratings=min_ratings))
    recs = await recommend.for_movie(es, names, seed, k=k, mode=mode, flt=flt)
    return RecommendationResponse(movie=seed.movie, mode=mode, recommendations=recs)
