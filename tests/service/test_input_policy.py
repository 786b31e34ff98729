"""Issue #13 items 1, 6 (API part) and 7: the input policy, faults, exposure and personal reads, on the real node."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from movierec.config import get_settings
from movierec.search.indices import IndexNames
from movierec.search.text import alt_norms as _alt_norms
from movierec.search.text import has_content, normalize
from movierec.search.text import suggest_inputs as _suggest_inputs
from movierec.search.text import title_keys as _title_keys
from movierec.service.policy import TokenBuckets, excerpt, json_problem

pytestmark = pytest.mark.es

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309"]
SCRIPTS = {"hebrew": "שר הטבעות", "cyrillic": "Брат 2", "cjk": "千と千尋の神隠し", "arabic": "الرسالة"}
UVICORN_PORT = 8402  # this helper's port for tests that run a real uvicorn


def _post_raw(client, path: str, text: str) -> httpx.Response:
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


# --- pure parts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", NON_FINITE)
def test_json_problem_names_non_finite_numbers(token):
    assert "finite" in json_problem(f'{{"rating": {token}}}'.encode())
    assert json_problem(b'{"rating": 4.5, "k": 10}') is None
    assert json_problem(b"{not json") is None  # FastAPI's own 422


def test_excerpt_is_short():
    assert len(excerpt("x" * 5_000_000)) < 200
    assert excerpt(float("nan")) == "nan"


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBuckets(rate=2.0, burst=2)
    assert bucket.take("a", now=0.0) == 0 and bucket.take("a", now=0.0) == 0
    assert bucket.take("a", now=0.0) == pytest.approx(0.5)
    assert bucket.take("b", now=0.0) == 0  # per client
    assert bucket.take("a", now=0.6) == 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_titles_in_any_script_normalise_to_words_on_both_sides(script):
    title = SCRIPTS[script]
    assert has_content(title) and normalize(title)
    # The pipeline's title fields (search-as-you-type inputs, exact keys) are built by the same function.
    assert _suggest_inputs(title, None, None) and _title_keys(title, None, None)
    assert _alt_norms("Spirited Away", title, None) == [normalize(title)]


def test_only_input_without_letters_or_digits_of_any_script_is_refused():
    assert not has_content("!!! ... ---") and not has_content("💥💥")
    assert has_content("١٢٣")  # Arabic-Indic digits


# --- the app on the real node, no indexed data needed --------------------------------------------


@pytest.fixture
def bare_api(settings):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        yield client


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/users/1/ratings", '{{"movie_id": 1, "rating": {}}}'),
        ("/users/1/ratings", '{{"movie_id": {}, "rating": 4}}'),
        ("/recommendations", '{{"title": "toy story", "k": {}}}'),
        ("/recommendations", '{{"title": "toy story", "diversity": {}}}'),
        ("/recommendations", '{{"title": "toy story", "filters": {{"min_ratings": {}}}}}'),
        ("/recommendations", '{{"title": "toy story", "filters": {{"year_min": {}}}}}'),
    ],
)
def test_non_finite_numbers_in_bodies_are_422(bare_api, path, template, token):
    answer = _post_raw(bare_api, path, template.format(token))
    assert answer.status_code == 422, answer.text
    assert "finite" in answer.text


@pytest.mark.parametrize("token", NON_FINITE)
def test_non_finite_numbers_in_consent_and_queries_are_422(bare_api, token):
    assert (
        bare_api.request(
            "PUT",
            "/users/1/consent",
            content=f'{{"personalisation": {token}}}',
            headers={"content-type": "application/json"},
        ).status_code
        == 422
    )
    for path in ("/recommendations?title=toy+story&diversity=", "/users/1/recommendations?diversity="):
        answer = bare_api.get(path + token.lower())
        assert answer.status_code == 422, answer.text
        answer.json()


@pytest.mark.parametrize(
    "body",
    [
        {"movie_id": 1, "rating": True},
        {"movie_id": 1, "rating": "4.5"},
        {"movie_id": "1", "rating": 4.5},
        {"movie_id": True, "rating": 4.5},
    ],
)
def test_ratings_need_real_numbers(bare_api, body):
    answer = bare_api.post("/users/1/ratings", json=body)
    assert answer.status_code == 422, answer.text


def test_consent_needs_a_real_boolean_and_k_a_real_integer(bare_api):
    assert bare_api.put("/users/1/consent", json={"personalisation": "yes"}).status_code == 422
    assert bare_api.put("/users/1/consent", json={"personalisation": 1}).status_code == 422
    assert bare_api.post("/recommendations", json={"title": "toy story", "k": "5"}).status_code == 422
    assert bare_api.post("/recommendations", json={"title": "toy story", "k": True}).status_code == 422


def test_large_bodies_are_413_before_any_query(bare_api):
    huge_titles = {"titles": ["x" * 250_000] * 20}
    assert bare_api.post("/recommendations", json=huge_titles).status_code == 413
    answer = bare_api.post("/recommendations", json={"title": "a" * 5_000_000})
    assert answer.status_code == 413 and len(answer.content) < 500
    extra = bare_api.post("/users/1/ratings", json={"movie_id": 1, "rating": 4, "junk": "z" * 5_000_000})
    assert extra.status_code == 413


def test_bulk_paths_are_left_to_their_own_limit(bare_api):
    answer = bare_api.post("/ratings:bulk", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert answer.status_code != 413


def test_long_titles_are_422_with_a_short_excerpt(bare_api):
    # Under the body limit, but each title far over 200 characters: refused before Elasticsearch sees it.
    answer = bare_api.post("/recommendations", json={"titles": ["toy story " * 4_000] * 20})
    assert answer.status_code == 422 and len(answer.content) < 20_000, len(answer.content)
    answer = bare_api.post("/recommendations", json={"title": "ab " * 300})  # 900 raw, 899 normalised
    assert answer.status_code == 422 and "200" in answer.text
    answer = bare_api.get("/movies/search", params={"q": "z" * 50_000})
    assert answer.status_code == 422 and len(answer.content) < 2_000
    answer = bare_api.get("/recommendations", params={"title": "toy", "genres": ["Drama"] * 50})
    assert answer.status_code == 422


def test_rate_limit_answers_429_with_retry_after(settings, monkeypatch):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    monkeypatch.setenv("MOVIEREC_RATE_LIMIT", "0.5")
    monkeypatch.setenv("MOVIEREC_RATE_LIMIT_BURST", "3")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        statuses = [client.get("/openapi.json").status_code for _ in range(4)]
        assert statuses[:3] == [200, 200, 200]
        answer = client.get("/openapi.json")
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
        assert client.get("/livez").status_code == 200  # probes are never throttled


def test_rate_limit_is_off_by_default(bare_api):
    assert {bare_api.get("/openapi.json").status_code for _ in range(30)} == {200}


def _red_alias(es, prefix: str) -> str:
    """An index whose primary cannot be allocated (the node an outage lost), behind the movies alias."""
    index = f"{prefix}movies-red"
    es.indices.create(
        index=index,
        settings={"number_of_replicas": 0, "index.routing.allocation.require._name": "no-such-node"},
        wait_for_active_shards="0",
    )
    es.indices.put_alias(index=index, name=IndexNames(prefix).alias("movies"))
    return index


def test_health_says_red_and_unassigned_shards_give_503_with_retry_after(bare_api, es, prefix):
    try:
        _red_alias(es, prefix)
        health = bare_api.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "red" and "unassigned" in health.json()["reason"]
        for path in ("/movies/search?q=toy+story", "/movies/1", "/recommendations?title=toy+story"):
            answer = bare_api.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["retry-after"]
    finally:
        es.indices.delete(index=f"{prefix}movies-red", ignore_unavailable=True)


def test_health_says_security_is_off(bare_api):
    body = bare_api.get("/health").json()
    assert body["security"] == "off" and "security is off" in body["warnings"][0]


def test_docs_reference_only_local_assets_and_they_are_served(bare_api):
    page = bare_api.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text and "https://" not in page.text
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in page.text
        assert bare_api.get(asset).status_code == 200
    license_text = (Path(__file__).parents[2] / "service/static/swagger-ui/LICENSE").read_text()
    assert "Apache License" in license_text


# --- a real uvicorn: a 500 keeps the keep-alive connection ------------------------------------------


@pytest.fixture
def uvicorn_url(settings, tmp_path):
    env = {**os.environ, "ES_URL": settings.es_url, "MOVIEREC_INDEX_PREFIX": settings.index_prefix}
    log = (tmp_path / "uvicorn.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.service.boom_app:app_with_a_failing_route",
            "--host",
            "127.0.0.1",
            "--port",
            str(UVICORN_PORT),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{UVICORN_PORT}/livez", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield tmp_path / "uvicorn.log"
    proc.terminate()
    proc.wait(timeout=15)


def test_errors_answer_json_and_keep_the_connection(uvicorn_url):
    conn = http.client.HTTPConnection("127.0.0.1", UVICORN_PORT, timeout=30)
    conn.connect()
    local = conn.sock.getsockname()

    def ask(method: str, path: str, body: str | None = None) -> tuple[int, dict]:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        payload = json.loads(answer.read())
        assert conn.sock is not None and conn.sock.getsockname() == local, "the connection was dropped"
        return answer.status, payload

    status, body = ask("GET", "/boom")
    assert status == 500 and body["request_id"]
    assert ask("GET", "/livez")[0] == 200
    for token in NON_FINITE:
        assert ask("POST", "/recommendations", f'{{"title": "toy story", "diversity": {token}}}')[0] == 422
        assert ask("GET", f"/recommendations?title=toy&diversity={token.lower()}")[0] == 422
        assert ask("GET", "/livez")[0] == 200
    conn.close()
    log = uvicorn_url.read_text()
    assert body["request_id"] in log and "Traceback" in log and "on purpose" in log


# --- over the indexed data -----------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.parametrize("script", SCRIPTS)
def test_titles_in_any_script_are_searched_not_refused(api, script):
    answer = api.get("/movies/search", params={"q": SCRIPTS[script]})
    assert answer.status_code == 200, answer.text


@pytest.mark.spark
def test_with_a_key_user_recommendations_need_it_and_movie_reads_stay_open(indexed, monkeypatch):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    monkeypatch.setenv("ES_URL", indexed.es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", indexed.index_prefix)
    monkeypatch.setenv("MOVIEREC_API_KEY", "s3cret-key")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            assert client.get("/users/1/recommendations").status_code == 401
            assert client.get("/users/1/recommendations", headers={"X-API-Key": "wrong"}).status_code == 401
            assert client.get("/users/1/recommendations", headers={"X-API-Key": "s3cret-key"}).status_code == 200
            assert client.get("/movies/search", params={"q": "toy story"}).status_code == 200
            assert client.get("/recommendations", params={"title": "toy story"}).status_code == 200
            assert client.post("/recommendations", json={"titles": ["toy story", "heat"]}).status_code == 200
    finally:
        get_settings.cache_clear()


@pytest.mark.spark
def test_demo_mode_user_recommendations_stay_open(api):
    assert api.get("/users/1/recommendations").status_code == 200


ODD_TEXT = st.one_of(
    st.text(min_size=1, max_size=300),
    st.sampled_from([*SCRIPTS.values(), "x" * 20_000, "🎬" * 500, "\u0000", "\u202e", "toy story"]),
)
ODD_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.text(max_size=10),
    st.none(),
)


@pytest.mark.spark
@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=ODD_TEXT,
    titles=st.lists(ODD_TEXT, max_size=25),
    k=ODD_NUMBER,
    diversity=ODD_NUMBER,
    min_ratings=ODD_NUMBER,
    raw_number=st.sampled_from(NON_FINITE),
)
def test_property_no_input_gives_a_5xx(api, title, titles, k, diversity, min_ratings, raw_number):
    bodies = [
        {"title": title, "k": k, "diversity": diversity, "filters": {"min_ratings": min_ratings}},
        {"titles": titles, "k": k},
    ]
    for body in bodies:
        answer = _post_raw(api, "/recommendations", json.dumps(body))  # NaN, Infinity written as such
        assert answer.status_code < 500, (body, answer.text[:300])
        answer.json()
    raw = _post_raw(api, "/users/999999999/ratings", f'{{"movie_id": {raw_number}, "rating": {raw_number}}}')
    assert raw.status_code == 422
    for path, params in (
        ("/movies/search", {"q": title}),
        ("/movies/suggest", {"prefix": title}),
        ("/recommendations", {"title": title, "diversity": str(diversity)}),
    ):
        answer = api.get(path, params=params)
        assert answer.status_code < 500, (path, params, answer.text[:300])
