"""Request validation, answered before any Elasticsearch call (no node needed)."""

import pytest
from fastapi.testclient import TestClient

from movierec.config import get_settings
from movierec.search.domain import YEAR_MAX, YEAR_MIN


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("ES_URL", "http://127.0.0.1:1")  # never reached: validation answers first
    get_settings.cache_clear()
    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        yield client
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "method, url, kwargs, where",
    [
        ("get", "/movies/search", {"params": {"q": "!!!"}}, ["query", "q"]),
        ("get", "/recommendations", {"params": {"title": "  ...  "}}, ["query", "title"]),
        ("post", "/recommendations", {"json": {"title": "?!"}}, ["body", "title"]),
        ("post", "/recommendations", {"json": {"titles": ["toy story", "--"]}}, ["body", "titles", 1]),
    ],
)
def test_text_without_letters_or_digits_is_rejected_the_same_way_everywhere(client, method, url, kwargs, where):
    resp = getattr(client, method)(url, **kwargs)
    assert resp.status_code == 422
    [error] = resp.json()["detail"]
    assert error["loc"] == where and "must contain letters or digits" in error["msg"]


def test_year_filters_share_the_domain_bounds(client):
    spec = client.app.openapi()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/recommendations"]["get"]["parameters"]}
    body = spec["components"]["schemas"]["Filters"]["properties"]
    for schema in (params["year_min"], params["year_max"], body["year_min"], body["year_max"]):
        bounds = next(s for s in schema["anyOf"] if s.get("type") == "integer")
        assert (bounds["minimum"], bounds["maximum"]) == (YEAR_MIN, YEAR_MAX)
    resp = client.get("/recommendations", params={"title": "heat", "year_min": YEAR_MIN - 1})
    assert resp.status_code == 422


def test_request_and_response_models_live_in_schemas_only():
    from pydantic import BaseModel

    from movierec.service.routes import health, movies, recommendations, users

    for module in (health, movies, recommendations, users):
        own = [n for n, o in vars(module).items() if isinstance(o, type) and issubclass(o, BaseModel)]
        assert not [n for n in own if getattr(module, n).__module__ == module.__name__], module.__name__
