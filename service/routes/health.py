from __future__ import annotations

from contextlib import suppress

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from movierec.search.indices import VERSIONED_KINDS, serving_version_async
from movierec.service.deps import EsDep, NamesDep
from movierec.service.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(es: EsDep, names: NamesDep) -> Health | JSONResponse:
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
    with suppress(ApiError):
        model_version = await serving_version_async(es, names)
    ok = len(counts) == len(VERSIONED_KINDS)
    body = Health(
        status="ok" if ok else "no data indexed",
        elasticsearch=cluster["status"],
        indices=counts,
        model_version=model_version,
    )
    return body if ok else JSONResponse(status_code=503, content=body.model_dump())
