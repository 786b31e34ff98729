"""Domain errors -> HTTP errors, at the boundary."""

from __future__ import annotations

import logging

from elasticsearch import ApiError
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from search.ratings import ModelUnavailable, RatingConflict

log = logging.getLogger(__name__)


def not_found(message: str, suggestions: list[dict] | None = None) -> HTTPException:
    detail: dict = {"message": message}
    if suggestions is not None:
        detail["suggestions"] = suggestions
    return HTTPException(status_code=404, detail=detail)


def install(app: FastAPI) -> None:
    @app.exception_handler(ModelUnavailable)
    async def no_model(request: Request, exc: ModelUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(RatingConflict)
    async def conflict(request: Request, exc: RatingConflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(EsConnectionError)
    @app.exception_handler(ConnectionTimeout)
    async def es_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Elasticsearch unavailable during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=503, content={"detail": "search backend unavailable, try again shortly"})

    @app.exception_handler(ApiError)
    async def es_error(request: Request, exc: ApiError) -> JSONResponse:
        # A missing alias means nothing is indexed yet; anything else is ours to fix, not the caller's.
        if exc.meta.status == 404:
            log.warning("index missing during %s %s: %s", request.method, request.url.path, exc)
            return JSONResponse(status_code=503, content={"detail": "no data indexed yet: run `movierec pipeline run`"})
        log.error("Elasticsearch error during %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=502, content={"detail": "search backend error"})
