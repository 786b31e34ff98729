"""The FastAPI app: lifespan (async ES client), error mapping, routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from movierec.config import get_settings
from movierec.search.client import async_client
from movierec.search.ratings import ModelCache
from movierec.service import errors, metrics
from movierec.service.routes import explore, health, movies, new_users, page, recommendations, users

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.conn = settings.es_connection()
    client_class = metrics.instrumented_client(app.state.metrics)
    app.state.es = async_client(app.state.conn, client_class, connections_per_node=settings.es_connections)
    log.info("Elasticsearch: %s", app.state.conn.describe())
    app.state.models = ModelCache()
    if not settings.api_key:
        log.warning("MOVIEREC_API_KEY is not set: rating writes are open (demo mode)")
    try:
        yield
    finally:
        await app.state.es.close()


def create_app() -> FastAPI:
    app = FastAPI(
        title="movierec",
        version="0.1.0",
        description="Movie recommendations from ALS factor vectors served by Elasticsearch kNN.",
        lifespan=lifespan,
    )
    errors.install(app)
    metrics.install(app)
    app.include_router(health.router)
    app.include_router(movies.router)
    app.include_router(recommendations.router)
    app.include_router(users.router)
    app.include_router(new_users.router)
    app.include_router(explore.router)
    app.include_router(page.router)
    return app


app = create_app()
