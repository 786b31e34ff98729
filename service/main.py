"""The FastAPI app: lifespan (schema migration, async ES client), error mapping, routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from elasticsearch import AsyncElasticsearch, ConnectionTimeout, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from fastapi import FastAPI

from movierec.config import Settings, get_settings
from movierec.search.indices import IndexNames
from movierec.search.migrate import migrate_shared_indices
from movierec.search.ratings import ModelCache
from movierec.service import errors, metrics
from movierec.service.routes import health, movies, recommendations, users

log = logging.getLogger(__name__)


def _migrate_shared_indices(settings: Settings) -> None:
    """Unversioned indices from before the current schema are migrated before the first request."""
    with Elasticsearch(settings.es_url, request_timeout=60, max_retries=0) as es:
        try:
            for done in migrate_shared_indices(es, IndexNames(settings.index_prefix)):
                log.warning("migrated %s to schema %d (%d documents)", done.target, done.to_version, done.documents)
        except (EsConnectionError, ConnectionTimeout) as exc:  # the API answers 503 until it is reachable
            log.warning("Elasticsearch unreachable at start-up, unversioned indices not checked for migration: %s", exc)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    await asyncio.to_thread(_migrate_shared_indices, settings)  # the sync client of the CLI and pipeline
    app.state.es = AsyncElasticsearch(
        settings.es_url,
        request_timeout=settings.es_timeout_s,
        max_retries=1,
        connections_per_node=settings.es_connections,
    )
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
    return app


app = create_app()
