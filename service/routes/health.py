from __future__ import annotations

import asyncio
from contextlib import suppress

from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from movierec.escompat import ServerVersion, server_version
from movierec.search.indices import VERSIONED_KINDS, serving_version_async
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
    # The version asked without the client's compatibility header: a server of another major refuses
    # every normal request with a 400, and this says which server it is and what to do.
    cluster, version = await asyncio.gather(es.cluster.health(), server_version(es), return_exceptions=True)
    version = version if isinstance(version, ServerVersion) else None
    number = version.number if version else None
    problem = version.problem() if version else None
    if problem:
        body = Health(status="incompatible", elasticsearch=problem, elasticsearch_version=number)
        return JSONResponse(status_code=503, content=body.model_dump())
    if isinstance(cluster, TransportError | ApiError):
        body = Health(status="unavailable", elasticsearch=f"unreachable: {type(cluster).__name__}")
        return JSONResponse(status_code=503, content=body.model_dump())
    if isinstance(cluster, BaseException):
        raise cluster
    counts: dict[str, int] = {}
    model_version = None
    for kind in VERSIONED_KINDS:
        try:
            counts[kind] = (await es.count(index=names.alias(kind)))["count"]
        except ApiError:
            continue
    with suppress(ApiError):
        model_version = await serving_version_async(es, names)
    if model_version:
        request.app.state.metrics.serving(model_version)
    ok = len(counts) == len(VERSIONED_KINDS)
    body = Health(
        status="ok" if ok else "no data indexed",
        elasticsearch=cluster["status"],
        indices=counts,
        model_version=model_version,
        elasticsearch_version=number,
    )
    return body if ok else JSONResponse(status_code=503, content=body.model_dump())
