from __future__ import annotations

import asyncio
from contextlib import suppress

from elasticsearch import ApiError, TransportError
from elasticsearch.helpers import ScanError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from movierec.escompat import ServerVersion, server_version
from movierec.search import added_movies
from movierec.search.foldin import GramDrift
from movierec.search.indices import VERSIONED_KINDS, IndexNames, serving_version_async
from movierec.search.ratings import ModelUnavailable
from movierec.service.deps import EsDep, NamesDep
from movierec.service.schemas import GramDriftOut, Health, Liveness

router = APIRouter(tags=["operations"])
# Past this guaranteed bound the user fold-in is said to be due a retrain (README "New movies": measured
# changes are about 30 times smaller than the bound).
GRAM_DRIFT_WARN = 0.5
SECURITY_OFF = "Elasticsearch security is off: anyone who reaches the node can read, change and delete every index"


def red_reason(cluster: dict) -> str:
    primaries = cluster.get("unassigned_primary_shards", cluster.get("unassigned_shards", 0))
    return (
        f"cluster red: {primaries} primary shard(s) unassigned; searches of those indices fail until they are "
        "allocated (a node restarting or missing)"
    )


async def security_state(es: EsDep) -> str | None:
    """`on` when the node authenticates us, `off` when it has no security, None when it does not say.

    `_security/_authenticate` needs no privilege. With security off the integ-test-zip has no handler for it
    (400 "no handler found") and the full distribution says "Security must be explicitly enabled". The
    `_xpack` info API cannot tell: the integ-test-zip answers it with a 500 (no monitoring action).
    """
    try:
        await es.security.authenticate()
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            return "on"
        text = str(exc).lower()
        return "off" if "no handler found" in text or "must be explicitly enabled" in text else None
    return "on"


async def fold_in_drift(request: Request, es: EsDep, names: IndexNames) -> GramDrift | None:
    """What the added movies' fold-in vectors, missing from the served YtY, do to user fold-ins (or None)."""
    # Only a report: a red cluster (a scan missing shards) or a missing card leaves it out, never fails /health.
    with suppress(ApiError, TransportError, ScanError, ModelUnavailable):
        model = await request.app.state.models.current(es, names)
        return await added_movies.user_gram_drift(es, names, model)
    return None


def drift_warning(drift: GramDrift | None) -> list[str]:
    if drift is None or drift.user_bound <= GRAM_DRIFT_WARN:
        return []
    return [
        f"{drift.items} added movies' fold-in vectors are missing from the user fold-in's item Gram: a user's "
        f"vector may be up to {drift.user_bound:.0%} off the exact one; the next `movierec pipeline run` trains them"
    ]


@router.get("/livez", tags=["operations"], response_model=Liveness)
async def livez() -> Liveness:
    """The process answers (for a liveness probe); says nothing about Elasticsearch, see /health."""
    return Liveness(status="alive")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, es: EsDep, names: NamesDep) -> Health | JSONResponse:
    """ES reachable, aliases present, serving model version and index counts; 503 otherwise."""
    # The version asked without the client's compatibility header: a server of another major refuses
    # every normal request with a 400, and this says which server it is and what to do.
    cluster, version, security = await asyncio.gather(
        es.cluster.health(), server_version(es), security_state(es), return_exceptions=True
    )
    security = security if isinstance(security, str) else None
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
    drift = None
    if model_version:
        request.app.state.metrics.serving(model_version)
        drift = await fold_in_drift(request, es, names)
    red = cluster["status"] == "red"
    ok = len(counts) == len(VERSIONED_KINDS) and not red
    body = Health(
        status="ok" if ok else "red" if red else "no data indexed",
        elasticsearch=cluster["status"],
        reason=red_reason(cluster) if red else None,
        indices=counts,
        model_version=model_version,
        elasticsearch_version=number,
        security=security,
        user_fold_in_drift=GramDriftOut(**drift.as_dict()) if drift else None,
        warnings=([SECURITY_OFF] if security == "off" else []) + drift_warning(drift),
    )
    return body if ok else JSONResponse(status_code=503, content=body.model_dump())
