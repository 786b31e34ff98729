import asyncio
import itertools
import re
import time

import numpy as np
import pytest
from elasticsearch import AsyncElasticsearch

from movierec.search import ratings
from movierec.search.indices import WRITE_ATTEMPTS, IndexNames

pytestmark = [pytest.mark.es, pytest.mark.spark]
_ids = itertools.count(900_001)

TOY_STORY, TOY_STORY_2, LION_KING, ALADDIN, SHREK = 1, 3114, 364, 588, 4306
SAW, HALLOWEEN = 8957, 1982


@pytest.fixture
def new_user(es, indexed):
    """A user id unknown to the model; their ratings and document are removed afterwards."""
    names = IndexNames(indexed.index_prefix)
    user_id = next(_ids)
    yield user_id
    forget(indexed, names, user_id)
    es.indices.refresh(index=names.ratings)
    for hit in es.search(index=names.ratings, query={"term": {"user_id": user_id}}, size=100)["hits"]["hits"]:
        es.delete(index=names.ratings, id=hit["_id"], refresh=True)
    es.options(ignore_status=404).delete(index=names.users, id=str(user_id), refresh=True)
    es.options(ignore_status=404).delete(index=names.consents, id=str(user_id), refresh=True)
    if es.indices.exists(index=names.deletions):
        es.indices.refresh(index=names.deletions)
        for hit in es.search(index=names.deletions, query={"term": {"user_id": user_id}}, size=100)["hits"]["hits"]:
            es.delete(index=names.deletions, id=hit["_id"], refresh=True)


def forget(indexed, names, user_id):
    """Erase the user through the write path, so the movies' live statistics lose their ratings again."""
    from movierec.search import privacy

    async def go():
        client = AsyncElasticsearch(indexed.es_url, request_timeout=60)  # a loaded machine: erasures refresh
        try:
            model = await ratings.ModelCache().current(client, names)
            await privacy.erase_user(client, names, user_id, model=model)
        except privacy.NothingStored:
            pass
        finally:
            await client.close()

    asyncio.run(go())


def rec_ids(api, user_id, k=10):
    body = api.get(f"/users/{user_id}/recommendations", params={"k": k}).json()
    return body["source"], [r["movie_id"] for r in body["recommendations"]]


def test_new_user_is_personalised_after_the_first_rating(api, new_user):
    source, before = rec_ids(api, new_user)
    assert source == "popular" and len(before) == 10
    resp = api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 5.0})
    assert resp.status_code == 200, resp.text
    assert resp.json()["num_ratings"] == 1 and resp.json()["vector_source"] == "fold-in"
    source, after = rec_ids(api, new_user)
    assert source == "personal" and TOY_STORY not in after and after != before


def test_each_rating_changes_the_next_recommendations(api, new_user):
    for movie in (TOY_STORY, LION_KING, ALADDIN):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 5.0})
    _, family = rec_ids(api, new_user, k=20)
    for movie in (SAW, HALLOWEEN):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 5.0})
    _, mixed = rec_ids(api, new_user, k=20)
    assert mixed != family
    assert not {TOY_STORY, LION_KING, ALADDIN, SAW, HALLOWEEN} & set(mixed)


def test_re_rating_a_movie_replaces_the_old_rating(api, new_user):
    api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 2.0})
    resp = api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 4.5})
    assert resp.json()["num_ratings"] == 1


def test_concurrent_ratings_for_one_user_are_all_counted(indexed, new_user, es):
    names = IndexNames(indexed.index_prefix)
    movies = [TOY_STORY, TOY_STORY_2, LION_KING, ALADDIN, SHREK, SAW]

    async def go():
        client = AsyncElasticsearch(indexed.es_url)
        try:
            model = await ratings.ModelCache().current(client, names)
            return await asyncio.gather(*(ratings.add_rating(client, names, model, new_user, m, 4.0) for m in movies))
        finally:
            await client.close()

    results = asyncio.run(go())
    user = es.get(index=names.users, id=str(new_user))["_source"]
    assert user["num_ratings"] == len(movies)
    assert max(r.attempts for r in results) >= 1


def test_a_failed_vector_update_leaves_no_rating_behind(indexed, new_user, es):
    names = IndexNames(indexed.index_prefix)
    broken = ratings.ModelCard("v-broken", implicit=True, reg_param=0.1, alpha=10.0, gram=np.eye(3))  # wrong rank

    async def go():
        client = AsyncElasticsearch(indexed.es_url)
        try:
            await ratings.add_rating(client, names, broken, new_user, TOY_STORY, 4.0)
        finally:
            await client.close()

    with pytest.raises(ValueError):
        asyncio.run(go())
    assert not es.exists(index=names.ratings, id=ratings.rating_id(new_user, TOY_STORY))
    assert not es.exists(index=names.users, id=str(new_user))


@pytest.mark.parametrize(
    "payload",
    [{"movie_id": 1, "rating": 5.5}, {"movie_id": 1, "rating": 0}, {"movie_id": 0, "rating": 3}, {"rating": 3}],
)
def test_bad_ratings_are_422(api, new_user, payload):
    resp = api.post(f"/users/{new_user}/ratings", json=payload)
    assert resp.status_code == 422 and resp.json()["detail"]


def test_rating_an_unknown_movie_is_404_and_stores_nothing(api, new_user, es, indexed):
    resp = api.post(f"/users/{new_user}/ratings", json={"movie_id": 999_999_999, "rating": 3.0})
    assert resp.status_code == 404
    assert not es.exists(index=IndexNames(indexed.index_prefix).users, id=str(new_user))


def test_writes_need_the_api_key_when_one_is_set(api, new_user, monkeypatch):
    from movierec.config import get_settings

    monkeypatch.setenv("MOVIEREC_API_KEY", "s3cret")
    get_settings.cache_clear()
    url = f"/users/{new_user}/ratings"
    assert api.post(url, json={"movie_id": 1, "rating": 4.0}).status_code == 401
    assert api.post(url, json={"movie_id": 1, "rating": 4.0}, headers={"X-API-Key": "nope"}).status_code == 401
    assert api.post(url, json={"movie_id": 1, "rating": 4.0}, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert api.delete(f"{url}/1").status_code == 401
    assert api.delete(f"{url}/1", headers={"X-API-Key": "s3cret"}).status_code == 200
    # A user's recommendations reveal their tastes: guarded like a write (issue 13); movie reads stay open.
    assert api.get(f"/users/{new_user}/recommendations").status_code == 401
    assert api.get(f"/users/{new_user}/recommendations", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert api.get("/movies/search", params={"q": "toy story"}).status_code == 200


def test_deleting_a_rating_refolds_the_user_and_is_remembered(api, new_user, es, indexed):
    names = IndexNames(indexed.index_prefix)
    for movie in (TOY_STORY, LION_KING):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 5.0})
    _, both = rec_ids(api, new_user, k=20)

    resp = api.delete(f"/users/{new_user}/ratings/{LION_KING}")
    assert resp.status_code == 200, resp.text
    assert resp.json() | {"model_version": None} == {
        "user_id": new_user,
        "movie_id": LION_KING,
        "rating": 5.0,
        "deleted": True,
        "num_ratings": 1,
        "vector_source": "fold-in",
        "model_version": None,
    }
    assert not es.exists(index=names.ratings, id=ratings.rating_id(new_user, LION_KING))
    assert es.get(index=names.deletions, id=ratings.rating_id(new_user, LION_KING))["_source"]["movie_id"] == LION_KING
    source, one = rec_ids(api, new_user, k=20)
    assert source == "personal" and one != both

    assert api.delete(f"/users/{new_user}/ratings/{TOY_STORY}").json()["vector_source"] == "none"
    assert rec_ids(api, new_user)[0] == "popular"  # nothing left to personalise from


def test_deleting_a_rating_that_does_not_exist_is_404(api, new_user):
    resp = api.delete(f"/users/{new_user}/ratings/{TOY_STORY}")
    assert resp.status_code == 404 and "has no rating for movie" in resp.json()["detail"]["message"]


def test_a_failed_deletion_restores_the_rating(indexed, new_user, es, api):
    names = IndexNames(indexed.index_prefix)
    api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 4.0})
    api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 3.0})
    broken = ratings.ModelCard("v-broken", implicit=True, reg_param=0.1, alpha=10.0, gram=np.eye(3))  # wrong rank

    async def go():
        client = AsyncElasticsearch(indexed.es_url)
        try:
            await ratings.remove_rating(client, names, broken, new_user, SHREK)
        finally:
            await client.close()

    with pytest.raises(ValueError):
        asyncio.run(go())
    assert es.get(index=names.ratings, id=ratings.rating_id(new_user, SHREK))["_source"]["rating"] == 3.0
    assert not es.exists(index=names.deletions, id=ratings.rating_id(new_user, SHREK))
    assert es.get(index=names.users, id=str(new_user))["_source"]["num_ratings"] == 2


def test_export_holds_the_profile_ratings_and_deletions(api, new_user):
    for movie in (TOY_STORY, SHREK):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 4.0})
    api.delete(f"/users/{new_user}/ratings/{SHREK}")
    body = api.get(f"/users/{new_user}/export").json()
    assert body["profile"]["user_id"] == new_user and len(body["profile"]["user_vector"]) > 0
    assert [(r["movie_id"], r["rating"], r["source"]) for r in body["ratings"]] == [(TOY_STORY, 4.0, "api")]
    assert [(d["kind"], d["movie_id"]) for d in body["deletions"]] == [("rating", SHREK)]
    assert api.get("/users/2147483647/export").status_code == 404


def test_erasure_removes_the_user_everywhere_and_is_recorded(api, new_user, es, indexed):
    names = IndexNames(indexed.index_prefix)
    for movie in (TOY_STORY, SHREK):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 4.0})
    resp = api.delete(f"/users/{new_user}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["ratings_deleted"], body["user_documents_deleted"]) == (2, 1)
    assert any(index.startswith(f"{names.prefix}ratings-") for index in body["indices_searched"])
    es.indices.refresh(index=names.ratings)
    assert es.count(index=names.ratings, query={"term": {"user_id": new_user}})["count"] == 0
    assert not es.exists(index=names.users, id=str(new_user))
    assert es.get(index=names.deletions, id=f"user_{new_user}")["_source"]["kind"] == "user"
    assert api.get(f"/users/{new_user}/export").status_code == 404
    assert rec_ids(api, new_user)[0] == "popular"
    assert api.delete(f"/users/{new_user}").status_code == 404  # nothing left to erase


def test_export_and_erasure_need_the_api_key_when_one_is_set(api, new_user, monkeypatch):
    from movierec.config import get_settings

    api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 4.0})
    monkeypatch.setenv("MOVIEREC_API_KEY", "s3cret")
    get_settings.cache_clear()
    assert api.get(f"/users/{new_user}/export").status_code == 401
    assert api.delete(f"/users/{new_user}").status_code == 401
    assert api.get(f"/users/{new_user}/export", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_consent_withdrawn_and_granted_takes_effect_at_once(api, new_user, es, indexed):
    names = IndexNames(indexed.index_prefix)
    for movie in (TOY_STORY, LION_KING):
        api.post(f"/users/{new_user}/ratings", json={"movie_id": movie, "rating": 5.0})
    assert api.get(f"/users/{new_user}/consent").json() | {"updated_at": None} == {
        "user_id": new_user,
        "personalisation": True,
        "recorded": False,
        "updated_at": None,
    }
    resp = api.put(f"/users/{new_user}/consent", json={"personalisation": False})
    assert resp.status_code == 200 and resp.json()["recorded"] is True
    profile = es.get(index=names.users, id=str(new_user))["_source"]
    assert "user_vector" not in profile and profile["vector_source"] == "no-consent"
    body = api.get(f"/users/{new_user}/recommendations").json()
    assert (body["source"], body["reason"]) == ("popular", "no consent to personalisation")

    # Still a user of the service: ratings are stored, no profile is computed from them.
    rated = api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 4.0}).json()
    assert (rated["num_ratings"], rated["vector_source"]) == (3, "no-consent")
    assert api.get(f"/users/{new_user}/export").json()["consent"]["personalisation"] is False

    api.put(f"/users/{new_user}/consent", json={"personalisation": True})
    body = api.get(f"/users/{new_user}/recommendations").json()
    assert (body["source"], body["reason"]) == ("personal", None)
    api.delete(f"/users/{new_user}")  # erasure removes the consent record too
    assert not es.exists(index=names.consents, id=str(new_user))


def test_a_withdrawal_between_a_fold_ins_read_and_its_write_leaves_no_vector(indexed, new_user, es):
    """Forced interleaving: the fold-in has read the user document, the consent and the ratings; the
    withdrawal runs to the end; only then does the fold-in's conditional write go out."""
    from movierec.search import consent

    names = IndexNames(indexed.index_prefix)

    async def go():
        client = AsyncElasticsearch(indexed.es_url)
        try:
            model = await ratings.ModelCache().current(client, names)
            await ratings.add_rating(client, names, model, new_user, TOY_STORY, 5.0)  # the user has a vector now
            fold_in_has_read, withdrawn = asyncio.Event(), asyncio.Event()
            events = []
            real_bulk = client.bulk

            async def gated_bulk(*args, **kwargs):
                heads = [op.get("index", {}) for op in kwargs.get("operations", []) if "index" in op]
                user_write = any(h.get("if_seq_no") is not None and "users-" in h.get("_index", "") for h in heads)
                if user_write and not fold_in_has_read.is_set():  # the fold-in's first conditional write: hold it
                    events.append("fold-in read")
                    fold_in_has_read.set()
                    await withdrawn.wait()
                    events.append("fold-in writes")
                return await real_bulk(*args, **kwargs)

            async def withdraw():
                await fold_in_has_read.wait()
                await consent.record_consent(client, names, new_user, False)
                events.append("withdrawn")
                withdrawn.set()

            client.bulk = gated_bulk
            result, _ = await asyncio.gather(
                ratings.add_rating(client, names, model, new_user, LION_KING, 4.0), withdraw()
            )
            return result, events
        finally:
            await client.close()

    result, events = asyncio.run(go())
    assert events == ["fold-in read", "withdrawn", "fold-in writes"]
    assert result.attempts == 2  # the held write conflicted with the withdrawal's and was redone
    profile = es.get(index=names.users, id=str(new_user))["_source"]
    assert "user_vector" not in profile and profile["vector_source"] == "no-consent"
    assert result.vector_source == "no-consent" and profile["num_ratings"] == 2
    assert es.get(index=names.ratings, id=ratings.rating_id(new_user, LION_KING))["_source"]["rating"] == 4.0


def test_a_withdrawal_that_keeps_losing_races_is_409_and_a_retry_removes_the_vector(api, new_user, es, indexed):
    """Every read of the user document is followed by a real write to it in Elasticsearch, so every
    conditional write of the vector removal conflicts: the answer must not claim the vector is gone."""
    names = IndexNames(indexed.index_prefix)
    api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 5.0})
    client = api.app.state.es
    real_get = client.get
    interfering_writes = []

    async def get_then_write(*args, **kwargs):
        resp = await real_get(*args, **kwargs)
        if resp["_index"].startswith(f"{names.prefix}users-") and resp["_id"] == str(new_user):
            await client.index(index=resp["_index"], id=resp["_id"], document=resp["_source"], refresh=True)
            interfering_writes.append(resp["_seq_no"])
        return resp

    client.get = get_then_write
    try:
        resp = api.put(f"/users/{new_user}/consent", json={"personalisation": False})
    finally:
        del client.get  # the class's own method again
    assert resp.status_code == 409, resp.text
    message = resp.json()["detail"]
    assert f"user {new_user}" in message and "recorded" in message and "try again" in message
    assert len(interfering_writes) == WRITE_ATTEMPTS + 1  # and the read of what the user adds to the audiences
    assert es.get(index=names.consents, id=str(new_user))["_source"]["personalisation"] is False  # recorded
    assert "user_vector" in es.get(index=names.users, id=str(new_user))["_source"]  # what the 409 says

    assert api.put(f"/users/{new_user}/consent", json={"personalisation": False}).status_code == 200
    profile = es.get(index=names.users, id=str(new_user))["_source"]
    assert "user_vector" not in profile and profile["vector_source"] == "no-consent"


def test_opt_in_deployment_personalises_only_after_consent(api, new_user, monkeypatch):
    from movierec.config import get_settings

    monkeypatch.setenv("MOVIEREC_CONSENT_REQUIRED", "true")
    get_settings.cache_clear()
    rated = api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 5.0}).json()
    assert rated["vector_source"] == "no-consent"
    assert api.get(f"/users/{new_user}/recommendations").json()["reason"] == "no consent to personalisation"
    assert api.get(f"/users/{new_user}/consent").json()["personalisation"] is False
    api.put(f"/users/{new_user}/consent", json={"personalisation": True})
    assert api.get(f"/users/{new_user}/recommendations").json()["source"] == "personal"


def test_consent_needs_the_api_key_when_one_is_set(api, new_user, monkeypatch):
    from movierec.config import get_settings

    monkeypatch.setenv("MOVIEREC_API_KEY", "s3cret")
    get_settings.cache_clear()
    assert api.put(f"/users/{new_user}/consent", json={"personalisation": False}).status_code == 401
    assert api.get(f"/users/{new_user}/consent").status_code == 401


def test_requests_read_no_mapping(api, new_user, monkeypatch):
    """Index bodies are read when an index must be created, never per request."""
    from movierec import resources

    def refuse(kind):
        raise AssertionError(f"a request read the {kind} mapping")

    monkeypatch.setattr(resources, "mapping", refuse)
    assert api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 4.0}).status_code == 200
    assert api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 3.0}).status_code == 200
    assert api.delete(f"/users/{new_user}/ratings/{SHREK}").status_code == 200
    assert api.put(f"/users/{new_user}/consent", json={"personalisation": False}).status_code == 200
    assert api.delete(f"/users/{new_user}").status_code == 200


def test_times_the_api_stamps_are_epoch_milliseconds(api, new_user):
    before = time.time_ns() // 1_000_000
    api.post(f"/users/{new_user}/ratings", json={"movie_id": TOY_STORY, "rating": 4.0})
    api.post(f"/users/{new_user}/ratings", json={"movie_id": SHREK, "rating": 3.0})
    api.delete(f"/users/{new_user}/ratings/{SHREK}")
    consented = api.put(f"/users/{new_user}/consent", json={"personalisation": True}).json()["updated_at"]
    exported = api.get(f"/users/{new_user}/export").json()
    erased = api.delete(f"/users/{new_user}").json()["erased_at"]
    after = time.time_ns() // 1_000_000
    [deletion] = exported["deletions"]
    stamped = [consented, exported["consent"]["updated_at"], exported["exported_at"], deletion["date"], erased]
    assert all(before <= t <= after for t in [*stamped, exported["profile"]["updated_at"]]), stamped
    [rating] = exported["ratings"]  # rating dates stay in MovieLens's epoch seconds
    assert before // 1000 <= rating["date"] <= after // 1000


def test_metrics_exposes_counts_and_latency(api):
    api.get("/movies/search", params={"q": "heat"})
    text = api.get("/metrics").text
    assert 'movierec_http_requests_total{method="GET",route="/movies/search",status="200"}' in text
    assert 'movierec_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/movies/search"}' in text
    assert 'movierec_es_request_duration_seconds_count{operation="search",outcome="ok"}' in text
    assert "movierec_http_requests_in_flight 1.0" in text  # the scrape itself
    api.get("/health")
    assert re.search(r'movierec_model_version\{version="v[^"]+"\} 1.0', api.get("/metrics").text)


def test_writes_before_any_model_is_indexed_are_503_with_a_reason(settings):
    from fastapi.testclient import TestClient

    from movierec.service.main import create_app

    with TestClient(create_app()) as client:  # `settings` points at a prefix with nothing indexed
        resp = client.post("/users/1/ratings", json={"movie_id": 1, "rating": 4.0})
        assert resp.status_code == 503 and "pipeline run" in resp.json()["detail"]
        assert client.delete("/users/1/ratings/1").status_code == 503
