import pytest

from movierec.resources import mappings_dir
from movierec.search import carryover, indices

MAPPINGS = mappings_dir()


def rating(user_id, movie_id, value, date, source="api"):
    return {"user_id": user_id, "movie_id": movie_id, "rating": value, "date": date, "source": source}


@pytest.mark.es
def test_fetch_and_copy_keep_the_newest_api_rating_per_pair(es, prefix):
    names = indices.IndexNames(prefix)
    old, new = (indices.create_version(es, names, v, dims=2)["ratings"] for v in ("v1", "v2"))
    for doc in (rating(1, 10, 4.0, 1000), rating(1, 11, 2.0, 2000), rating(2, 10, 3.0, 900, source="movielens")):
        es.index(index=old, id=f"{doc['user_id']}_{doc['movie_id']}", document=doc)
    # The new version already has a newer API rating for (1, 10) and a file rating for (1, 11).
    es.index(index=new, id="1_10", document=rating(1, 10, 5.0, 1500))
    es.index(index=new, id="1_11", document=rating(1, 11, 3.5, 100, source="movielens"))
    es.indices.refresh(index=[old, new])

    live = carryover.fetch_live_ratings(es, old)
    assert sorted((r["user_id"], r["movie_id"]) for r in live) == [(1, 10), (1, 11)]
    assert [r["movie_id"] for r in carryover.fetch_live_ratings(es, old, since=1500)] == [11]
    assert carryover.fetch_live_ratings(es, f"{prefix}missing") == []

    assert carryover.copy_newer(es, live, new) == [1]
    held = {hit["_id"]: hit["_source"]["rating"] for hit in es.search(index=new)["hits"]["hits"]}
    assert held == {"1_10": 5.0, "1_11": 2.0}  # the newer API rating stays; the file's one is replaced
    assert carryover.copy_newer(es, live, new) == []  # idempotent


@pytest.mark.es
def test_late_ratings_and_deletions_of_a_merged_added_movie_go_to_the_files_movie(es, es_url, prefix):
    """A run merged added movie X into file movie 13: what the API took for X while the run worked (in the
    old version) lands under 13 in the new one, where X is no movie of its own."""
    import asyncio

    from elasticsearch import AsyncElasticsearch

    from movierec.connection import EsConnection
    from movierec.search import added_movies
    from movierec.search.domain import now_ms

    names = indices.IndexNames(prefix)
    added, balto = 1_000_000_001, 13
    old = indices.create_version(es, names, "v1", dims=2)
    new = indices.create_version(es, names, "v2", dims=2)

    async def shared():
        async with AsyncElasticsearch(es_url) as client:
            for kind in (added_movies.KIND, "deletions"):
                await indices.ensure_shared_index(client, names, kind)

    asyncio.run(shared())
    es.index(index=added_movies.index_name(names), id=str(added), document={"movie_id": added, "merged_into": balto})
    es.index(index=old["movies"], id=str(added), document={"movie_id": added, "title": "Balto"})
    es.index(index=new["movies"], id=str(balto), document={"movie_id": balto, "title": "Balto"})
    es.index(index=new["ratings"], id=f"3_{balto}", document=rating(3, balto, 4.0, 1000))  # moved by the run
    for doc in (rating(1, added, 4.5, 2000), rating(2, added, 3.0, 2000)):
        es.index(index=old["ratings"], id=f"{doc['user_id']}_{added}", document=doc)
    deletion = {"kind": "rating", "user_id": 3, "movie_id": added, "date": now_ms()}
    es.index(index=names.deletions, id=f"3_{added}", document=deletion, refresh=True)
    es.indices.refresh(index=[old["ratings"], new["ratings"], old["movies"], new["movies"]])

    conn = EsConnection(hosts=(es_url,))
    result = carryover.carry_over(es, conn, names, from_version="v1", to_version="v2", since=1500)
    assert result.found == 2 and result.users == [1, 2, 3]
    es.indices.refresh(index=new["ratings"])
    held = {hit["_id"]: hit["_source"]["rating"] for hit in es.search(index=new["ratings"])["hits"]["hits"]}
    assert held == {f"1_{balto}": 4.5, f"2_{balto}": 3.0}  # none under the added id; 3's deletion applied
