"""Dependencies injected into routes."""

from __future__ import annotations

from typing import Annotated

from elasticsearch import AsyncElasticsearch
from fastapi import Depends, Header, HTTPException, Path, Query, Request

from movierec.config import Settings, get_settings
from movierec.search.indices import IndexNames
from movierec.search.queries import MMR_CANDIDATE_FACTOR

# Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a thread pool,
# a thread hop per dependency per request. Measured on /movies/suggest (one ES call): p50 7.5 ms with
# sync dependencies, 2.6 ms with these.


async def settings_dep() -> Settings:
    return get_settings()


async def get_es(request: Request) -> AsyncElasticsearch:
    return request.app.state.es


async def get_names(settings: Annotated[Settings, Depends(settings_dep)]) -> IndexNames:
    return IndexNames(settings.index_prefix, settings.replicas)


async def require_api_key(
    settings: Annotated[Settings, Depends(settings_dep)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    """Writes and personal reads (export, consent, a user's recommendations) need `X-API-Key` if a key is set."""
    if settings.api_key and x_api_key != settings.api_key:
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")


EsDep = Annotated[AsyncElasticsearch, Depends(get_es)]
MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="MovieLens movieId", examples=[1])]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="pseudonymous user id", examples=[1])]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
NamesDep = Annotated[IndexNames, Depends(get_names)]
WriteAccess = Depends(require_api_key)
# A user's exported data and recommendations are personal (they reveal tastes): guarded like a write, while
# movie search and title -> recommendations stay open.
PersonalDataAccess = Depends(require_api_key)

DIVERSITY_HELP = (
    "0 (default): ranked by relevance alone. Above 0, up to 1: maximal marginal relevance re-ranks the "
    f"{MMR_CANDIDATE_FACTOR} x k best kNN candidates with lambda = 1 - diversity, so fewer near-duplicates and "
    "more genres; k results still come back, filters and exclusions still apply, best match first."
)
Diversity = Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False, description=DIVERSITY_HELP, examples=[0.5])]
