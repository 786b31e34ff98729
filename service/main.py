"""The FastAPI app: lifespan (schema migration, async ES client), error mapping, routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from elasticsearch import ApiError, ConnectionTimeout
from elasticsearch import ConnectionError as EsConnectionError
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from movierec.config import Settings, get_settings
from movierec.search.client import async_client, sync_client
from movierec.search.indices import IndexNames
from movierec.search.migrate import add_missing_fields, migrate_shared_indices
from movierec.search.ratings import ModelCache
from movierec.search.title_cache import TitleResolutions
from movierec.search.writes import WriteQueue
from movierec.service import errors, metrics, policy
from movierec.service.routes import explore, health, movies, new_users, page, ratings_bulk, recommendations, users

log = logging.getLogger(__name__)
# Swagger UI, vendored from npm's swagger-ui-dist (package.json and LICENSE beside it): /docs works offline.
SWAGGER_DIR = Path(__file__).parent / "static" / "swagger-ui"


def _migrate_shared_indices(settings: Settings) -> None:
    """Unversioned indices from before the current schema are migrated before the first request."""
    with sync_client(settings.es_connection(request_timeout=60), max_retries=0) as es:
        try:
            for done in migrate_shared_indices(es, IndexNames(settings.index_prefix)):
                log.warning("migrated %s to schema %d (%d documents)", done.target, done.to_version, done.documents)
            for index in add_missing_fields(es, IndexNames(settings.index_prefix)):
                log.warning("added the fields of this release to %s", index)
        except (EsConnectionError, ConnectionTimeout, ApiError) as exc:  # the API answers 503 until it can
            log.warning("Elasticsearch unreachable at start-up, unversioned indices not checked for migration: %s", exc)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    app.state.conn = settings.es_connection()
    await asyncio.to_thread(_migrate_shared_indices, settings)  # the sync client of the CLI and pipeline
    client_class = metrics.instrumented_client(app.state.metrics)
    app.state.es = async_client(app.state.conn, client_class, connections_per_node=settings.es_connections)
    log.info("Elasticsearch: %s", app.state.conn.describe())
    app.state.models = ModelCache()
    app.state.writes = WriteQueue(metrics.WriteObserver(app.state.metrics))  # one batch at a time, per worker
    app.state.titles = TitleResolutions()  # exact title -> movie id, checked on every use (title_cache.py)
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
        docs_url=None,  # served below from vendored assets, not a CDN
        redoc_url=None,  # ReDoc is only on a CDN; /docs covers it
    )
    errors.install(app)
    metrics.install(app)
    policy.install(app)  # after metrics: the outermost middleware

    app.mount("/docs-assets", StaticFiles(directory=SWAGGER_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="movierec - API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    app.include_router(health.router)
    app.include_router(movies.router)
    app.include_router(recommendations.router)
    app.include_router(users.router)
    app.include_router(new_users.router)
    app.include_router(ratings_bulk.router)
    app.include_router(explore.router)
    app.include_router(page.router)
    return app


app = create_app()
