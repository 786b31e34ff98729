"""A user with more ratings than one search returns (10,000): every reader must see all of them."""

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, helpers

from movierec.search import indices, privacy, ratings, recommend
from movierec.search.queries import USER_PAGE

pytestmark = [pytest.mark.es, pytest.mark.spark]

HEAVY_USER = 990_777
N_RATINGS = 10_100
N_UNRATED = 20


@pytest.fixture
def heavy(es, indexed, prefix):
    """Under a test prefix: the session's movies and model, a fresh ratings index holding one user's
    10,100 ratings (every movie but 20, plus movies unknown to the model), and their pipeline-made user document.

    The movies alias points at the session's movies index, so the refolds here run without live updates:
    with them, the user's first vector joined the audience sums of ~9,700 session movies (they "like" every
    movie), ratings the session's ratings index does not hold, and every later test that compares a movie's
    audience with a recomputation from the stored ratings measured that instead (a drift of 1.48)."""
    session = indices.IndexNames(indexed.index_prefix)
    names = indices.IndexNames(prefix)
    version = indices.serving_version(es, session)
    card = ratings.card_from_document(version, es.get(index=session.models, id=version)["_source"])
    movies = {
        hit["_source"]["movie_id"]: bool(hit["_source"].get("item_vector"))
        for hit in helpers.scan(es, index=session.movies, query={"_source": ["movie_id", "item_vector"]})
    }
    with_vectors = sorted(m for m, has_vector in movies.items() if has_vector)
    unrated = set(with_vectors[:: len(with_vectors) // N_UNRATED][:N_UNRATED])
    real = sorted(set(movies) - unrated)
    # Unknown ids sort first and are indexed first, so a reader cut off at 10,000 (by movie id or in
    # index order) misses real rated movies.
    unknown = list(range(-(N_RATINGS - len(real)), 0))
    rated = unknown + real
    assert len(rated) == N_RATINGS > USER_PAGE
    es.indices.create(index=f"{prefix}ratings-v1", aliases={names.ratings: {}}, **indices.load_mapping("ratings"))
    users_body = indices.load_mapping("users", dims=card.gram.shape[0])
    es.indices.create(index=f"{prefix}users-v1", aliases={names.users: {}}, **users_body)
    movies_alias = {"index": session.concrete("movies", version), "alias": names.movies}
    es.indices.update_aliases(actions=[{"add": movies_alias}])
    docs = (
        {
            "_index": names.ratings,
            "_id": ratings.rating_id(HEAVY_USER, movie_id),
            "user_id": HEAVY_USER,
            "movie_id": movie_id,
            "rating": 4.0,
            "date": 1_700_000_000 + i,
            "source": "movielens",
        }
        for i, movie_id in enumerate(rated)
    )
    helpers.bulk(es, docs, chunk_size=5000, refresh=True)
    # The user as the pipeline writes them: a document without the write path's `ratings`, so the first
    # fold-in reads every rating from the ratings index (the write path keeps them on the document after).
    user = {"user_id": HEAVY_USER, "num_ratings": N_RATINGS, "vector_source": "none"}
    es.index(index=names.users, id=str(HEAVY_USER), document=user, refresh=True)
    try:
        yield names, card, rated, unrated
    finally:
        es.indices.update_aliases(actions=[{"remove": movies_alias}])  # never let cleanup reach the session's index


def run(indexed, fn):
    async def go():
        es = AsyncElasticsearch(indexed.es_url)
        try:
            return await fn(es)
        finally:
            await es.close()

    return asyncio.run(go())


def test_fold_in_export_and_the_exclusion_list_read_every_rating_of_a_heavy_user(indexed, heavy):
    names, card, rated, _ = heavy

    async def fold_in_and_export(es):
        doc, _ = await ratings.refold_user(es, names, card, HEAVY_USER, live_updates=False)
        return doc, await privacy.export_user(es, names, HEAVY_USER)

    doc, exported = run(indexed, fold_in_and_export)
    assert doc["num_ratings"] == N_RATINGS and doc["user_vector"]
    assert len(exported["ratings"]) == N_RATINGS
    ids = run(indexed, lambda es: ratings.rated_movie_ids(es, names, HEAVY_USER))
    assert len(ids) == N_RATINGS and sorted(ids) == sorted(rated)


def test_a_heavy_users_recommendations_exclude_every_rated_movie(indexed, heavy):
    names, card, _, unrated = heavy

    async def go(es):
        await ratings.refold_user(es, names, card, HEAVY_USER, live_updates=False)
        return await recommend.for_user(es, names, HEAVY_USER, k=100)

    result = run(indexed, go)
    recs, source = result.recommendations, result.source
    assert source == "personal"
    assert {r["movie_id"] for r in recs} == unrated  # only the 20 movies the user never rated are left
