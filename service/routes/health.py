from __future__ import annotations

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from movierec.search.indices import VERSIONED_KINDS
from movierec.service.deps import EsDep, NamesDep
from movierec.service.schemas import Health, Liveness

router = APIRouter(tags=["operations"])


@router.get("/livez", tags=["operations"], response_model=Liveness)
async def livez() -> Liveness:
    """The process answers (for a liveness probe); says nothing about Elasticsearch, see /health."""
    return Liveness(status="alive")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, es: EsDep, names: NamesDep) -> Health | JSONResponse:
    """ES reachable, aliases present, serving model version and index counts; 503 otherwise."""
    try:
        cluster = await es.cluster.health()
    except (TransportError, ApiError) as exc:
        body = Health(status="unavailable", elasticsearch=f"unreachable: {type(exc).__name__}")
        return JSONResponse(status_code=503, content=body.model_dump())
    counts: dict[str, int] = {}
    model_version = None
    for kind in VERSIONED_KINDS:
        try:
            counts[kind] = (await es.count(index=names.alias(kind)))["count"]
        except ApiError:
            continue
    try:
        aliased = await es.indices.get_alias(name=names.movies)
        model_version = next(iter(aliased)).removeprefix(names.concrete("movies", ""))
    except ApiError:
        pass
    if model_version:
        request.app.state.metrics.serving(model_version)
    ok = len(counts) == len(VERSIONED_KINDS)
    body = Health(
        status="ok" if ok else "no data indexed",
        elasticsearch=cluster["status"],
        indices=counts,
        model_version=model_version,
    )
    return body if ok else JSONResponse(status_code=503, content=body.model_dump())
