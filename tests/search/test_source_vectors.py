"""Elasticsearch 9.2+ leaves `dense_vector` values out of `_source` unless an index says otherwise
(`index.mapping.exclude_source_vectors`). Decided per index (mappings/):

- users: vectors stay in `_source` (false). User documents are read, modified and written back (fold-in,
  consent withdrawal, rollback refolds) and exported with the vector (`GET /users/{id}/export`).
- movies: vectors left out (true, the 9.x default). Movie documents are written whole by the pipeline and
  never rewritten; every reader that needs a vector asks for it by name or uses a kNN lookup.

These tests fail if a vector is silently dropped on either side.
"""

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch

from movierec.search import movies, privacy
from movierec.search.indices import IndexNames, load_mapping, replace_if_unchanged

pytestmark = [pytest.mark.es]


def run(url, fn):
    async def go():
        es = AsyncElasticsearch(url)
        try:
            return await fn(es)
        finally:
            await es.close()

    return asyncio.run(go())


def test_mappings_decide_per_index():
    assert load_mapping("users")["settings"]["index.mapping.exclude_source_vectors"] is False
    assert load_mapping("movies")["settings"]["index.mapping.exclude_source_vectors"] is True


def test_a_user_document_read_modified_and_written_back_keeps_its_vector(es, es_url, prefix):
    index = f"{prefix}users-v1"
    es.indices.create(index=index, **load_mapping("users", dims=3))
    es.index(index=index, id="7", document={"user_id": 7, "user_vector": [0.5, -1.0, 2.0]}, refresh=True)

    async def rewrite(client):
        seen = await client.get(index=index, id="7")  # a plain GET, as ratings.py and consent.py do
        await replace_if_unchanged(client, seen, {**seen["_source"], "activity_level": "light"})

    run(es_url, rewrite)
    src = es.get(index=index, id="7")["_source"]
    assert src["activity_level"] == "light" and src["user_vector"] == [0.5, -1.0, 2.0]


def test_the_same_rewrite_on_a_9x_default_index_would_drop_the_vector(es, es_url, prefix):
    """Why users opt out of the default: this is what a plain read-modify-write does under it."""
    index = f"{prefix}movies-v1"
    es.indices.create(index=index, **load_mapping("movies", dims=3))
    es.index(index=index, id="1", document={"movie_id": 1, "item_vector": [1.0, 2.0, 3.0]}, refresh=True)
    seen = es.get(index=index, id="1")
    assert "item_vector" not in seen["_source"]
    assert es.get(index=index, id="1", source_includes=["item_vector"])["_source"]["item_vector"] == [1.0, 2.0, 3.0]


@pytest.mark.spark
def test_pipeline_indices_serve_user_vectors_in_source_and_export(indexed, es):
    names = IndexNames(indexed.index_prefix)
    concrete = next(iter(es.indices.get_alias(name=names.users)))
    setting = es.indices.get_settings(index=concrete, name="index.mapping.exclude_source_vectors")
    assert setting[concrete]["settings"]["index"]["mapping"]["exclude_source_vectors"] == "false"
    dims = len(es.get(index=names.users, id="1")["_source"]["user_vector"])
    assert dims > 0
    exported = run(indexed.es_url, lambda client: privacy.export_user(client, names, 1))
    assert len(exported["profile"]["user_vector"]) == dims


@pytest.mark.spark
def test_pipeline_movies_leave_vectors_out_and_readers_ask_for_them(indexed, es):
    names = IndexNames(indexed.index_prefix)
    assert not {"item_vector", "audience_vector"} & es.get(index=names.movies, id="1")["_source"].keys()
    # The fold-in's read (ratings.py: mget with source_includes) still gets the item vectors.
    docs = es.mget(index=names.movies, ids=["1", "2"], source_includes=["item_vector"])["docs"]
    assert all(len(d["_source"]["item_vector"]) > 0 for d in docs)

    async def readers(client):
        seed = await movies.resolve_title(client, names, "toy story")
        return (
            seed,
            await movies.get_movie(client, names, 1, with_vectors=True),
            await movies.get_movie(client, names, 1),
        )

    seed, with_vectors, plain = run(indexed.es_url, readers)
    assert seed.item_vector and seed.audience_vector
    assert with_vectors["item_vector"] == seed.item_vector and with_vectors["audience_vector"] == seed.audience_vector
    assert not {"item_vector", "audience_vector", "suggest"} & plain.keys()
