import asyncio

import numpy as np
import pytest
from elasticsearch import AsyncElasticsearch, helpers

from movierec.search import movies, queries, recommend
from movierec.search.indices import IndexNames

pytestmark = [pytest.mark.es, pytest.mark.spark]


def run(indexed, fn):
    async def go():
        es = AsyncElasticsearch(indexed.es_url)
        try:
            return await fn(es, IndexNames(indexed.index_prefix))
        finally:
            await es.close()

    return asyncio.run(go())


def test_title_recommendations_exclude_the_seed_and_are_ordered(indexed):
    async def go(es, names):
        seed = await movies.resolve_title(es, names, "toy story")
        return seed, await recommend.for_movie(es, names, seed, k=10)

    seed, recs = run(indexed, go)
    assert seed.movie["movie_id"] == 1
    assert len(recs) == 10 and 1 not in [r["movie_id"] for r in recs]
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_filters_apply_inside_knn(indexed):
    flt = queries.MovieFilter(
        genres_any=("Animation",), genres_none=("Comedy",), year_min=1990, year_max=2005, min_ratings=5
    )

    async def go(es, names):
        seed = await movies.resolve_title(es, names, "the matrix")
        return await recommend.for_movie(es, names, seed, k=10, flt=flt)

    recs = run(indexed, go)
    assert len(recs) == 10  # pre-filtering still fills k
    for r in recs:
        assert "Animation" in r["genres"] and "Comedy" not in r["genres"]
        assert 1990 <= r["year"] <= 2005 and r["num_ratings"] >= 5


def test_user_recommendations_skip_rated_movies(indexed, es):
    names = IndexNames(indexed.index_prefix)
    rated = {
        hit["_source"]["movie_id"]
        for hit in helpers.scan(es, index=names.ratings, query={"query": {"term": {"user_id": 1}}})
    }
    recs, source, reason = run(indexed, lambda es_, n: recommend.for_user(es_, n, 1, k=20))
    assert (source, reason) == ("personal", None) and len(recs) == 20
    assert not rated & {r["movie_id"] for r in recs}


def test_user_without_vector_gets_popular_movies(indexed):
    recs, source, reason = run(indexed, lambda es_, n: recommend.for_user(es_, n, 999_999, k=5))
    assert (source, reason) == ("popular", "no ratings in the model yet") and len(recs) == 5


def test_opt_in_deployments_do_not_personalise_without_a_consent_record(indexed):
    recs, source, reason = run(indexed, lambda es_, n: recommend.for_user(es_, n, 1, k=5, consent_default=False))
    assert (source, reason) == ("popular", "no consent to personalisation") and len(recs) == 5


def test_hnsw_recall_against_exact_search(indexed, es):
    """recall@10 of the HNSW index vs NumPy brute force over the same vectors, 200 queries."""
    names = IndexNames(indexed.index_prefix)
    docs = list(
        helpers.scan(
            es,
            index=names.movies,
            query={"_source": ["movie_id", "item_vector"], "query": {"exists": {"field": "item_vector"}}},
        )
    )
    ids = np.array([d["_source"]["movie_id"] for d in docs])
    vectors = np.array([d["_source"]["item_vector"] for d in docs], dtype=np.float32)
    queries_ = np.random.default_rng(0).choice(len(vectors), 200, replace=False)
    hits = 0
    for qi in queries_:
        exact = set(ids[np.argsort(-(vectors @ vectors[qi]))[:10]])
        body = queries.knn_body(vectors[qi].tolist(), k=10)
        got = {h["_source"]["movie_id"] for h in es.search(index=names.movies, **body)["hits"]["hits"]}
        hits += len(exact & got)
    assert hits / (10 * len(queries_)) >= 0.99
