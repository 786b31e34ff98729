"""Domain errors -> HTTP errors, at the boundary."""

from __future__ import annotations

import logging

from elasticsearch import ApiError, ConnectionTimeout
from elasticsearch import ConnectionError as EsConnectionError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from movierec.errors import Kind, MovierecError
from movierec.escompat import CLIENT_MAJOR
from movierec.search.client import explain

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
# Error types Elasticsearch reports while shards are unassigned, initialising or relocating (a node
# restarting): whatever status they come with (a 500 for some), a retry soon succeeds, so 503 + Retry-After.
SHARD_UNAVAILABLE = frozenset(
    {
        "no_shard_available_action_exception",
        "unavailable_shards_exception",
        "primary_missing_action_exception",
        "illegal_index_shard_state_exception",
        "index_shard_not_started_exception",
        "index_shard_closed_exception",
        "shard_not_found_exception",
        "node_not_connected_exception",
        "node_disconnected_exception",
        "node_closed_exception",
        "connect_transport_exception",
        "cluster_block_exception",
    }
)


def error_types(exc: ApiError) -> set[str]:
    """The error's type and its root causes' and failed shards' types, from the server's body."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    found = {error.get("type")}
    found |= {cause.get("type") for cause in error.get("root_cause", []) if isinstance(cause, dict)}
    for failure in error.get("failed_shards", []):
        reason = failure.get("reason") if isinstance(failure, dict) else None
        if isinstance(reason, dict):
            found.add(reason.get("type"))
    return {t for t in found if isinstance(t, str)}


def shards_unavailable(exc: ApiError) -> bool:
    return exc.meta.status in (429, 503, 504) or bool(error_types(exc) & SHARD_UNAVAILABLE)


# The one table from the kinds of domain error to HTTP. Routes raise domain errors and never map them.
STATUS: dict[Kind, int] = {
    "bad_input": 422,
    "not_found": 404,
    "conflict": 409,
    "unavailable": 503,
    "failed": 500,
}


def error_body(exc: MovierecError) -> dict:
    # 404s carry an object (message, and suggestions for a title); the others a string, as before.
    if exc.kind == "not_found":
        return {"detail": {"message": str(exc), **getattr(exc, "extra", {})}}
    if exc.kind == "conflict" and getattr(exc, "extra", None):  # a duplicate movie: which one it is
        return {"detail": {"message": str(exc), **exc.extra}}
    return {"detail": str(exc)}


def install(app: FastAPI) -> None:
    @app.exception_handler(MovierecError)
    async def domain_error(request: Request, exc: MovierecError) -> JSONResponse:
        status = STATUS[exc.kind]
        if status >= 500:
            log.error("%s during %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return JSONResponse(status_code=status, content=error_body(exc))

    @app.exception_handler(EsConnectionError)
    @app.exception_handler(ConnectionTimeout)
    async def es_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Elasticsearch unavailable during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"detail": "search backend unavailable, try again shortly"},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(ApiError)
    async def es_error(request: Request, exc: ApiError) -> JSONResponse:
        status = exc.meta.status
        if status in (401, 403):  # the deployment's credentials, not the caller's: an outage to them
            message = explain(exc, request.app.state.conn, public=True)
            log.error("%s %s: %s", request.method, request.url.path, explain(exc, request.app.state.conn))
            return JSONResponse(status_code=503, content={"detail": message})
        if shards_unavailable(exc):  # shards unassigned or relocating, a node restarting: try again soon
            log.warning("Elasticsearch busy (%s) during %s %s: %s", status, request.method, request.url.path, exc)
            return JSONResponse(
                status_code=503,
                content={"detail": "search backend temporarily unavailable, try again shortly"},
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        # A missing alias means nothing is indexed yet; anything else is ours to fix, not the caller's.
        if exc.meta.status == 400 and "media_type_header_exception" in str(exc):
            # A server of another major refuses the 9.x client's compatibility header; /health says which.
            log.error(
                "Elasticsearch refused the client's version during %s %s: %s", request.method, request.url.path, exc
            )
            detail = f"search backend is not an Elasticsearch {CLIENT_MAJOR}.x server: see /health"
            return JSONResponse(status_code=503, content={"detail": detail})
        if exc.meta.status == 404:
            log.warning("index missing during %s %s: %s", request.method, request.url.path, exc)
            return JSONResponse(status_code=503, content={"detail": "no data indexed yet: run `movierec pipeline run`"})
        log.error("Elasticsearch error during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=502, content={"detail": "search backend error"})
