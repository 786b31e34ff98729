"""The real app plus one route that raises, for the keep-alive test (uvicorn --factory)."""

from __future__ import annotations

from fastapi import FastAPI

from movierec.service.main import create_app


def app_with_a_failing_route() -> FastAPI:
    app = create_app()

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("an unexpected failure, on purpose")

    return app
