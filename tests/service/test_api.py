import pytest

pytestmark = [pytest.mark.es, pytest.mark.spark]


def test_health_reports_counts_and_model_version(api, indexed, es):
    from movierec.search.indices import IndexNames

    names = IndexNames(indexed.index_prefix)
    body = api.get("/health").json()
    assert body["status"] == "ok"
    # The session's indices also hold what earlier tests added (POST /movies, new users rating): /health
    # reports what the indices hold, at least the pipeline's 9,742 movies and 610 users.
    es.indices.refresh(index=f"{names.movies},{names.users}")
    movies, users = (es.count(index=i)["count"] for i in (names.movies, names.users))
    assert body["indices"]["movies"] == movies >= 9742 and body["indices"]["users"] == users >= 610
    assert body["model_version"].startswith("v")


def test_search_shape(api):
    resp = api.get("/movies/search", params={"q": "pulp fictoin", "limit": 3})
    assert resp.status_code == 200
    body = resp.json()
    assert body["query"] == "pulp fictoin"
    assert body["results"][0]["title"] == "Pulp Fiction"
    assert set(body["results"][0]) >= {"movie_id", "title", "year", "genres", "score"}


def test_suggest(api):
    body = api.get("/movies/suggest", params={"prefix": "eternal sunsh"}).json()
    assert body["suggestions"][0]["movie_id"] == 7361


def test_recommendations_by_title(api):
    body = api.get("/recommendations", params={"title": "toy story", "k": 10}).json()
    assert body["movie"]["movie_id"] == 1
    recs = body["recommendations"]
    assert len(recs) == 10 and all(r["movie_id"] != 1 for r in recs)
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    assert {"avg_rating", "num_ratings"} <= set(recs[0])


def test_post_recommendations_with_several_titles_and_filters(api):
    body = api.post(
        "/recommendations", json={"titles": ["toy story", "shrek"], "k": 5, "filters": {"genres": ["Animation"]}}
    ).json()
    assert [m["title"] for m in body["movies"]] == ["Toy Story", "Shrek"]
    assert len(body["recommendations"]) == 5
    assert all("Animation" in r["genres"] for r in body["recommendations"])
    assert not {1, 4306} & {r["movie_id"] for r in body["recommendations"]}


def test_movie_by_id_and_similar(api):
    movie = api.get("/movies/318").json()
    assert movie["title"] == "The Shawshank Redemption"
    assert movie["num_ratings"] > 300 and 4 < movie["avg_rating"] <= 5 and movie["damped_rating"] is not None
    # Vectors and the search-only fields stay inside Elasticsearch.
    assert not {"item_vector", "audience_vector", "suggest", "title_norm", "title_keys"} & movie.keys()
    body = api.get("/movies/318/similar", params={"k": 3, "mode": "similar"}).json()
    assert len(body["recommendations"]) == 3 and 318 not in [r["movie_id"] for r in body["recommendations"]]


@pytest.mark.parametrize(
    "url, params",
    [
        ("/recommendations", {"title": "toy story", "k": 0}),
        ("/recommendations", {"title": "toy story", "k": 101}),
        ("/recommendations", {"title": ""}),
        ("/recommendations", {"title": "   "}),
        ("/movies/search", {"q": "!!!"}),
        ("/movies/search", {"q": "x", "limit": 0}),
        ("/movies/0", {}),
    ],
)
def test_bad_parameters_are_422_with_a_message(api, url, params):
    resp = api.get(url, params=params)
    assert resp.status_code == 422
    assert resp.json()["detail"]


def test_unknown_title_is_404_with_suggestions(api):
    resp = api.get("/recommendations", params={"title": "qqqq zzzz xxxx wwww"})
    assert resp.status_code == 404
    assert "suggestions" in resp.json()["detail"]


def test_unknown_movie_id_is_404(api):
    assert api.get("/movies/999999999").status_code == 404


def test_es_unreachable_is_503_without_a_stack_trace(monkeypatch, indexed):
    from fastapi.testclient import TestClient

    from movierec.config import get_settings
    from movierec.service.main import create_app

    monkeypatch.setenv("ES_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        resp = client.get("/recommendations", params={"title": "toy story"})
        assert resp.status_code == 503
        assert resp.json() == {"detail": "search backend unavailable, try again shortly"}
        assert resp.headers["retry-after"] == "5"
        assert client.get("/health").status_code == 503
        assert client.get("/livez").json() == {"status": "alive"}  # the process lives on
    get_settings.cache_clear()


def test_search_without_results_answers_200_with_a_suggestions_field(api):
    body = api.get("/movies/search", params={"q": "qqqq zzzz xxxx wwww"}).json()
    assert body["results"] == [] and isinstance(body["suggestions"], list)


def test_es_connection_pool_size_comes_from_settings(monkeypatch, indexed):
    from fastapi.testclient import TestClient

    from movierec.config import get_settings
    from movierec.service.main import create_app

    monkeypatch.setenv("ES_URL", indexed.es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", indexed.index_prefix)
    monkeypatch.setenv("ES_CONNECTIONS", "3")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            node = client.app.state.es.transport.node_pool.get()
            assert node.config.connections_per_node == 3
            assert client.get("/movies/search", params={"q": "heat"}).status_code == 200
    finally:
        get_settings.cache_clear()


def test_openapi_documents_every_operation_with_examples():
    from movierec.service.main import create_app

    spec = create_app().openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                if param["in"] in ("query", "path") and param.get("required"):
                    documented = param.get("examples") or param.get("example") or param["schema"].get("examples")
                    assert documented, f"{method.upper()} {path}: {param['name']}"
            if method != "get" or path == "/metrics":
                continue
            ref = op["responses"]["200"]["content"]["application/json"]["schema"].get("$ref", "")
            assert ref, f"GET {path} has no response model"
            schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert schema.get("examples"), f"GET {path}: {ref} has no example"
