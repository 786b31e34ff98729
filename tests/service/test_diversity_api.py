"""`diversity` on every list endpoint: 0 is today's list, above 0 a different, still valid list."""

import pytest

pytestmark = [pytest.mark.es, pytest.mark.spark]


def rec_ids(body):
    return [r["movie_id"] for r in body["recommendations"]]


@pytest.mark.parametrize(
    "url, params",
    [
        ("/recommendations", {"title": "toy story", "k": 10}),
        ("/movies/1/similar", {"k": 10}),
        ("/movies/1/similar", {"k": 10, "mode": "similar"}),
        ("/users/1/recommendations", {"k": 10}),
    ],
)
def test_diversity_on_get_endpoints(api, url, params):
    plain = api.get(url, params=params).json()
    zero = api.get(url, params={**params, "diversity": 0}).json()
    diverse = api.get(url, params={**params, "diversity": 0.75})
    assert diverse.status_code == 200
    assert rec_ids(zero) == rec_ids(plain)
    assert len(rec_ids(diverse.json())) == 10 and rec_ids(diverse.json()) != rec_ids(plain)
    assert 1 not in rec_ids(diverse.json())


def test_diversity_on_post_keeps_the_filters(api):
    body = {"titles": ["toy story", "shrek"], "k": 8, "filters": {"genres": ["Animation"]}, "diversity": 0.5}
    resp = api.post("/recommendations", json=body)
    assert resp.status_code == 200
    recs = resp.json()["recommendations"]
    assert len(recs) == 8 and all("Animation" in r["genres"] for r in recs)
    assert not {1, 4306} & {r["movie_id"] for r in recs}
    plain = api.post("/recommendations", json={**body, "diversity": 0}).json()["recommendations"]
    assert [r["movie_id"] for r in recs] != [r["movie_id"] for r in plain]


@pytest.mark.parametrize("value", [-0.1, 1.01, "lots"])
def test_diversity_outside_0_1_is_422(api, value):
    assert api.get("/recommendations", params={"title": "toy story", "diversity": value}).status_code == 422
    assert api.post("/recommendations", json={"title": "toy story", "diversity": value}).status_code == 422


def test_openapi_documents_diversity():
    from movierec.service.main import create_app

    spec = create_app().openapi()
    for path in ("/recommendations", "/movies/{movie_id}/similar", "/users/{user_id}/recommendations"):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        schema = params["diversity"]["schema"]
        assert schema["minimum"] == 0 and schema["maximum"] == 1 and schema["default"] == 0
        assert "lambda = 1 - diversity" in params["diversity"]["description"]
    request = spec["components"]["schemas"]["RecommendationRequest"]["properties"]["diversity"]
    assert request["maximum"] == 1 and "5 x k" in request["description"]
