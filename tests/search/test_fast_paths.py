"""Issue 16's fast paths against the real node: remembered titles (one _msearch, checked on every use)
and user recommendations in one kNN (vector and rated movie ids looked up by Elasticsearch)."""

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, helpers

from movierec.search import indices, movies, queries, recommend
from movierec.search.indices import IndexNames
from movierec.search.title_cache import TitleResolutions
from movierec.search.title_queries import TITLE_QUERIES

pytestmark = [pytest.mark.es, pytest.mark.spark]


def run(url, fn):
    async def go():
        es = AsyncElasticsearch(url)
        try:
            return await fn(es)
        finally:
            await es.close()

    return asyncio.run(go())


def ids(recs):
    return [r["movie_id"] for r in recs]


def test_the_title_table_stays_50_of_50_when_titles_are_remembered_and_lists_do_not_change(indexed):
    names = IndexNames(indexed.index_prefix)
    cache = TitleResolutions()

    async def go(es):
        rounds = []
        for _ in range(2):  # the first round remembers, the second answers from one _msearch
            rows = []
            for query, _, _ in TITLE_QUERIES:
                seed, recs = await recommend.for_title(es, names, query, k=10, resolutions=cache)
                plain_seed, plain = await recommend.for_title(es, names, query, k=10)
                rows.append((seed.movie["movie_id"], ids(recs), plain_seed.movie["movie_id"], ids(plain)))
            rounds.append(rows)
        return rounds

    for rows in run(indexed.es_url, go):
        assert [row[0] for row in rows] == [want for _, want, _ in TITLE_QUERIES]  # 50/50 top-1
        assert all(seed == plain_seed and recs == plain for seed, recs, plain_seed, plain in rows)
    assert len(cache) == len({queries.normalize(q) for q, _, _ in TITLE_QUERIES})  # "amelie" = "Amélie"
    assert cache.get(names.movies, "toy story") == (1, True)  # checked without the fuzzy clause
    assert cache.get(names.movies, "shawshenk redemption") == (318, False)  # checked by the full search


def _movie(movie_id, title, year, popularity, vector):
    return {
        "_id": str(movie_id),
        "movie_id": movie_id,
        "title": title,
        "title_norm": queries.normalize(title),
        "title_keys": [queries.normalize(title)],
        "year": year,
        "genres": ["Drama"],
        "num_ratings": 10,
        "popularity": popularity,
        "item_vector": vector,
        "audience_vector": vector,
    }


def _three_movies(es, prefix):
    """Heat (the most popular), Other (near its vector) and Another, in a fresh 2-d movies index."""
    names = IndexNames(prefix)
    es.indices.create(index=f"{prefix}movies-v1", aliases={names.movies: {}}, **indices.load_mapping("movies", dims=2))
    docs = [
        _movie(1, "Heat", 1995, 2.0, [1.0, 0.0]),
        _movie(2, "Other", 1990, 1.0, [0.9, 0.1]),
        _movie(3, "Another", 1991, 1.0, [0.1, 0.9]),
    ]
    helpers.bulk(es, docs, index=names.movies, refresh=True)
    return names


def _asker(names, cache, title="heat"):
    async def ask(client):
        seed, recs = await recommend.for_title(client, names, title, k=2, resolutions=cache)
        return seed.movie["movie_id"], ids(recs)

    return ask


def test_a_remembered_title_is_displaced_by_a_better_exact_match_added_later(es, es_url, prefix):
    """A new movie (as POST /movies makes them) with the same title and more popularity wins the title:
    the first request after it answers the new movie, never the remembered one."""
    names = _three_movies(es, prefix)
    cache = TitleResolutions()
    ask = _asker(names, cache)

    assert run(es_url, ask)[0] == 1
    assert cache.get(names.movies, "heat") == (1, True)
    assert run(es_url, ask) == (1, [2, 3])  # answered from the one _msearch
    helpers.bulk(es, [_movie(4, "Heat", 2026, 5.0, [0.5, 0.5])], index=names.movies, refresh=True)
    seed, recs = run(es_url, ask)
    assert seed == 4 and 4 not in recs
    assert cache.get(names.movies, "heat") == (4, True)  # the new exact match is remembered instead
    helpers.bulk(es, [_movie(5, "Heap", 2000, 9.0, [0.2, 0.8])], index=names.movies, refresh=True)
    assert run(es_url, lambda c: recommend.for_title(c, names, "heap", k=2, resolutions=cache))[0].exact
    cache.remember(names.movies, "heet", 1, exact=False)  # a typo resolved before "Heat" lost to movie 4
    seed, _ = run(es_url, lambda c: recommend.for_title(c, names, "heet", k=2, resolutions=cache))
    assert seed.movie["movie_id"] != 1 and cache.get(names.movies, "heet")[0] == seed.movie["movie_id"]


def test_a_remembered_vector_is_never_served_after_its_movie_changed(es, es_url, prefix):
    """The one _msearch sends the remembered seed vector (no lookup); the title search's versions prove it
    current. A live update of the movie (any write bumps its _seq_no) makes the next request take the full
    path and answer from the new vector, which is then remembered."""
    names = _three_movies(es, prefix)
    cache = TitleResolutions()
    ask = _asker(names, cache)

    assert run(es_url, ask) == (1, [2, 3])
    version, vector = cache.seed_vector(names.movies, "heat", "audience")
    assert vector == [1.0, 0.0]
    assert run(es_url, ask) == (1, [2, 3])  # answered from the _msearch with the remembered vector
    es.update(index=names.movies, id="1", doc={"audience_vector": [0.1, 0.9], "num_ratings": 11}, refresh=True)
    assert run(es_url, ask) == (1, [3, 2])  # the stale vector would still say [2, 3]
    new_version, new_vector = cache.seed_vector(names.movies, "heat", "audience")
    assert new_vector == pytest.approx([0.1, 0.9]) and new_version[1] > version[1]
    assert run(es_url, ask) == (1, [3, 2])


def test_user_recommendations_exclude_every_rated_movie_of_the_heaviest_bundled_user(indexed, es):
    names = IndexNames(indexed.index_prefix)
    user = es.search(index=names.users, size=1, sort=[{"num_ratings": "desc"}])["hits"]["hits"][0]["_source"]
    rated = {
        hit["_source"]["movie_id"]
        for hit in helpers.scan(es, index=names.ratings, query={"query": {"term": {"user_id": user["user_id"]}}})
    }
    assert user["num_ratings"] == len(rated) == 2698 and sorted(rated) == user["rated_movie_ids"]
    result = run(indexed.es_url, lambda c: recommend.for_user(c, names, user["user_id"], k=100))
    assert result.source == "personal" and len(result.recommendations) == 100
    assert not rated & set(ids(result.recommendations))


def test_a_withdrawn_consent_wins_over_a_vector_that_is_still_stored(indexed, es):
    """The vector removal can fail under a concurrent write (VectorNotRemoved): the consent is read with
    every request, so such a user gets the popular list, their rated movies still excluded."""
    names = IndexNames(indexed.index_prefix)
    indices.ensure_shared_indices(es, names)
    user_id = 1
    assert es.get(index=names.users, id=str(user_id))["_source"].get("user_vector")
    rated = set(es.get(index=names.users, id=str(user_id))["_source"]["rated_movie_ids"])
    es.index(
        index=names.consents, id=str(user_id), document={"user_id": user_id, "personalisation": False}, refresh=True
    )
    try:
        result = run(indexed.es_url, lambda c: recommend.for_user(c, names, user_id, k=100))
    finally:
        es.delete(index=names.consents, id=str(user_id), refresh=True)
    assert (result.source, result.reason) == ("popular", recommend.NO_CONSENT)
    assert result.recommendations and not rated & set(ids(result.recommendations))
    assert run(indexed.es_url, lambda c: recommend.for_user(c, names, user_id, k=5)).source == "personal"


def test_the_resolved_seed_says_whether_the_match_was_exact(indexed):
    names = IndexNames(indexed.index_prefix)
    seeds = run(
        indexed.es_url,
        lambda c: asyncio.gather(
            movies.resolve_title(c, names, "toy story"), movies.resolve_title(c, names, "forest gump")
        ),
    )
    assert [s.exact for s in seeds] == [True, False]
