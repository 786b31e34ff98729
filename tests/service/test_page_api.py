"""The page's API side: static files, config, explore charts, POST /users, filtered movie recommendations."""

import pytest

from movierec.config import get_settings

pytestmark = [pytest.mark.es, pytest.mark.spark]


def test_the_page_and_its_assets_are_served_by_the_api(api):
    page = api.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "javascript"), ("app.css", "css")):
        resp = api.get(f"/static/{name}")
        assert resp.status_code == 200 and kind in resp.headers["content-type"]
    # Offline: nothing is fetched from another origin.
    for text in (page.text, api.get("/static/app.js").text, api.get("/static/app.css").text):
        assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert api.get("/static/../main.py").status_code == 404
    assert api.get("/static/nope.js").status_code == 404


def test_the_page_never_holds_the_api_key(indexed, monkeypatch):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    monkeypatch.setenv("ES_URL", indexed.es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", indexed.index_prefix)
    monkeypatch.setenv("MOVIEREC_API_KEY", "page-must-not-see-this")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            texts = [client.get(p).text for p in ("/", "/static/app.js", "/static/app.css", "/page/config")]
            assert client.get("/page/config").json()["writes_need_key"] is True
            assert client.post("/users").status_code == 401
    finally:
        get_settings.cache_clear()
    assert not any("page-must-not-see-this" in t for t in texts)


def test_page_config_says_writes_are_open_in_demo_mode(api):
    assert api.get("/page/config").json() == {"writes_need_key": False, "consent_required": False}


def test_post_users_hands_out_fresh_ids_above_every_movielens_id(api):
    ids = {api.post("/users").json()["user_id"] for _ in range(5)}
    assert len(ids) == 5 and all(1_000_000_000 <= i < 2**31 for i in ids)
    user_id = ids.pop()
    recs = api.get(f"/users/{user_id}/recommendations").json()
    assert recs["source"] == "popular" and recs["reason"] == "no ratings in the model yet"
    assert api.post(f"/users/{user_id}/ratings", json={"movie_id": 1, "rating": 5}).status_code == 200
    assert api.get(f"/users/{user_id}/recommendations").json()["source"] == "personal"


def test_a_claimed_id_is_never_handed_out_again(api, indexed, es, monkeypatch):
    from movierec.search import pseudonyms

    first = api.post("/users").json()["user_id"]
    draws = iter([first, first + 1])
    monkeypatch.setattr(pseudonyms, "draw_id", lambda: next(draws))
    assert api.post("/users").json()["user_id"] == first + 1
    stored = es.get(index=f"{indexed.index_prefix}pseudonyms", id=str(first))["_source"]
    assert stored["user_id"] == first and set(stored) == {"user_id", "created_at"}


def test_movie_recommendations_by_id_take_filters(api):
    plain = api.get("/movies/1/recommendations", params={"k": 10}).json()
    assert plain["movie"]["title"] == "Toy Story" and len(plain["recommendations"]) == 10
    filtered = api.get(
        "/movies/1/recommendations",
        params={"k": 5, "mode": "similar", "genres": "Animation", "year_min": 1990, "year_max": 2005},
    ).json()
    assert filtered["mode"] == "similar" and len(filtered["recommendations"]) == 5
    for movie in filtered["recommendations"]:
        assert "Animation" in movie["genres"] and 1990 <= movie["year"] <= 2005 and movie["movie_id"] != 1
    assert api.get("/movies/999999999/recommendations").status_code == 404


def test_explore_endpoints_match_the_indexed_data(api, es, indexed):
    ratings = api.get("/explore/ratings").json()
    assert ratings["total"] == es.count(index=f"{indexed.index_prefix}ratings")["count"]
    assert [s["stars"] for s in ratings["stars"]] == [0.5 * i for i in range(1, 11)]
    assert sum(s["ratings"] for s in ratings["stars"]) == ratings["total"]
    activity = api.get("/explore/activity").json()
    # Other tests of the session add users through the API: at least the 610 MovieLens users.
    assert activity["users"] >= 610 and sum(b["users"] for b in activity["per_user"]) == activity["users"]
    assert activity["years"][0]["year"] == 1996
    genres = api.get("/explore/genres").json()["genres"]
    drama = next(g for g in genres if g["genre"] == "Drama")
    assert drama["low"] < drama["mean"] < drama["high"] and drama["ratings"] > 40000
    emb = api.get("/explore/embedding", params={"limit": 100}).json()
    assert emb["shown"] == 100 and emb["truncated"] and emb["total"] > 9000
    # The most rated movie first: Forrest Gump in the files, but other tests of the session add ratings
    # through the API (test_added_movies: 100 raters of Toy Story), so the index says which.
    top = es.search(
        index=f"{indexed.index_prefix}movies",
        size=1,
        query={"exists": {"field": "embedding_x"}},
        sort=[{"num_ratings": "desc"}, {"movie_id": "asc"}],  # the endpoint's order, ties included
        source=["title", "genres"],
    )["hits"]["hits"][0]["_source"]
    assert emb["points"][0]["title"] == top["title"] and emb["points"][0]["genre"] in top["genres"]
    users = api.get("/explore/demo-users").json()["users"]
    assert 1 <= len(users) <= 6 and len({u["favourite_genres"][0] for u in users}) == len(users)


@pytest.mark.parametrize("chart", ["ratings", "activity", "timeline", "genres", "embedding"])
def test_explore_charts_are_accessible_svg(api, chart):
    resp = api.get(f"/explore/charts/{chart}.svg")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("image/svg+xml")
    svg = resp.text
    assert svg.startswith("<svg") and 'role="img"' in svg and "<desc" in svg and "aria-labelledby" in svg
    import xml.etree.ElementTree as ET

    ET.fromstring(svg)  # well-formed
    if chart == "embedding":
        assert svg.count('class="point"') == 2000 and "Toy Story (1995)" in svg
