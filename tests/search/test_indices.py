import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, helpers

from movierec.resources import mappings_dir
from movierec.search import indices

pytestmark = pytest.mark.es
MAPPINGS = mappings_dir()


def load(es, names, version, n_movies):
    indices.create_version(es, names, version, dims=2)
    docs = [
        {
            "_index": names.concrete("movies", version),
            "_id": str(i),
            "movie_id": i,
            "title": f"{version} {i}",
            "item_vector": [1.0, float(i)],
        }
        for i in range(n_movies)
    ]
    helpers.bulk(es, docs)
    return {"movies": n_movies, "users": 0, "ratings": 0}


def titles(es, names):
    es.indices.refresh(index=names.movies)
    return {hit["_source"]["title"].split()[0] for hit in es.search(index=names.movies, size=50)["hits"]["hits"]}


def test_mapping_files_define_the_indices_and_dims_follow_the_model():
    body = indices.load_mapping("movies", dims=48)
    props = body["mappings"]["properties"]
    assert props["item_vector"]["dims"] == 48 and props["audience_vector"]["dims"] == 48
    assert props["item_vector"]["similarity"] == "max_inner_product"
    assert indices.load_mapping("users", dims=7)["mappings"]["properties"]["user_vector"]["dims"] == 7


def test_publish_switches_all_aliases_and_rollback_returns(es, prefix):
    names = indices.IndexNames(prefix)
    indices.publish(es, names, "v1", load(es, names, "v1", 3))
    assert indices.serving_version(es, names) == "v1" and titles(es, names) == {"v1"}
    indices.publish(es, names, "v2", load(es, names, "v2", 4))
    assert indices.serving_version(es, names) == "v2" and titles(es, names) == {"v2"}
    for kind in indices.VERSIONED_KINDS:
        assert list(es.indices.get_alias(name=names.alias(kind))) == [names.concrete(kind, "v2")]
    assert indices.rollback(es, names) == "v1"
    assert titles(es, names) == {"v1"}
    with pytest.raises(indices.NoSuchVersion):
        indices.rollback(es, names)


def test_old_versions_are_pruned_keeping_the_previous_one(es, prefix):
    names = indices.IndexNames(prefix)
    for version in ("v1", "v2", "v3"):
        indices.publish(es, names, version, load(es, names, version, 1))
    assert indices.versions(es, names) == ["v2", "v3"]
    rows = indices.status(es, names)
    assert [(r["version"], r["serving"], r["movies"]) for r in rows] == [("v2", False, 1), ("v3", True, 1)]


def test_incomplete_load_leaves_the_old_version_serving(es, prefix):
    names = indices.IndexNames(prefix)
    indices.publish(es, names, "v1", load(es, names, "v1", 3))
    expected = load(es, names, "v2", 2)
    expected["movies"] = 5  # three documents never arrived
    with pytest.raises(indices.IndexLoadError, match="holds 2 documents, expected 5"):
        indices.publish(es, names, "v2", expected)
    assert indices.serving_version(es, names) == "v1" and titles(es, names) == {"v1"}


def test_the_serving_version_reads_the_same_from_the_sync_and_the_async_client(es, es_url, prefix):
    names = indices.IndexNames(prefix)

    async def read_async():
        async with AsyncElasticsearch(es_url) as client:
            return await indices.serving_version_async(client, names)

    assert indices.serving_version(es, names) is None and asyncio.run(read_async()) is None
    indices.publish(es, names, "v1", load(es, names, "v1", 1))
    assert indices.serving_version(es, names) == asyncio.run(read_async()) == "v1"


def test_a_half_written_version_neither_pushes_out_the_last_good_one_nor_is_rolled_back_to(es, prefix):
    """The issue's case: a killed index stage left `-<version>` indices; the next run's pruning kept the
    two newest versions by name (deleting the last good one) and rollback switched to the half-written one."""
    names = indices.IndexNames(prefix)
    indices.publish(es, names, "v1", load(es, names, "v1", 3))
    load(es, names, "v2", 1)  # killed: indices created and partly filled, never verified
    indices.publish(es, names, "v3", load(es, names, "v3", 2))
    assert indices.complete_versions(es, names) == ["v1", "v3"]
    assert indices.incomplete_versions(es, names) == ["v2"]
    rows = {r["version"]: r for r in indices.status(es, names)}
    assert (rows["v2"]["complete"], rows["v1"]["complete"], rows["v3"]["serving"]) == (False, True, True)
    assert indices.rollback(es, names) == "v1" and titles(es, names) == {"v1"}
    indices.switch_to(es, names, "v3")
    assert indices.drop_incomplete(es, names, before="v4") == ["v2"]
    assert indices.versions(es, names) == ["v1", "v3"] and indices.incomplete_versions(es, names) == []
