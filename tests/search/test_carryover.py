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


def two_versions_with_shared_indices(es, es_url, prefix):
    """v1 and v2 of a 2-d deployment, with the added-movies and deletions indices."""
    import asyncio

    from elasticsearch import AsyncElasticsearch

    from movierec.search import added_movies

    names = indices.IndexNames(prefix)
    old = indices.create_version(es, names, "v1", dims=2)
    new = indices.create_version(es, names, "v2", dims=2)

    async def shared():
        async with AsyncElasticsearch(es_url) as client:
            for kind in (added_movies.KIND, "deletions"):
                await indices.ensure_shared_index(client, names, kind)

    asyncio.run(shared())
    return names, old, new


@pytest.mark.es
def test_late_ratings_and_deletions_of_a_merged_added_movie_go_to_the_files_movie(es, es_url, prefix):
    """A run merged added movie X into file movie 13: what the API took for X while the run worked (in the
    old version) lands under 13 in the new one, where X is no movie of its own."""
    from movierec.connection import EsConnection
    from movierec.search import added_movies
    from movierec.search.domain import now_ms

    names, old, new = two_versions_with_shared_indices(es, es_url, prefix)
    added, balto = 1_000_000_001, 13
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


@pytest.mark.es
def test_a_rollback_from_before_a_merge_gives_the_files_id_back_to_the_added_movie(es, es_url, prefix):
    """v2 merged added movie X into file movie 13 (new in v2's files); ratings and a deletion given to 13
    since then land under X when v1 (which knows only X) serves again, and X is un-merged, so the next
    run merges it again instead of dropping its ratings as those of an unknown movie."""
    from movierec.connection import EsConnection
    from movierec.search import added_carryover, added_movies
    from movierec.search.domain import now_ms

    names, old, new = two_versions_with_shared_indices(es, es_url, prefix)
    added, balto = 1_000_000_001, 13
    quiet = 1_000_000_002  # merged into file movie 14, which nobody rated since: un-merged all the same
    for a, f, title in ((added, balto, "Balto"), (quiet, 14, "Quiet")):
        record = {"kind": "movie", "movie_id": a, "title": title, "merged_into": f}
        es.index(index=added_movies.index_name(names), id=str(a), document=record, refresh=True)
        es.index(index=old["movies"], id=str(a), document={"movie_id": a, "title": title})
        es.index(index=new["movies"], id=str(f), document={"movie_id": f, "title": title})
    es.index(index=old["ratings"], id=f"3_{added}", document=rating(3, added, 2.0, 500))
    for doc in (rating(1, balto, 4.5, 2000), rating(2, balto, 3.0, 2000)):
        es.index(index=new["ratings"], id=f"{doc['user_id']}_{balto}", document=doc)
    deletion = {"kind": "rating", "user_id": 3, "movie_id": balto, "date": now_ms()}
    es.index(index=names.deletions, id=f"3_{balto}", document=deletion, refresh=True)
    es.indices.refresh(index=[old["ratings"], new["ratings"], old["movies"], new["movies"]])

    result = carryover.carry_over(es, EsConnection(hosts=(es_url,)), names, from_version="v2", to_version="v1")
    assert result.found == 2 and result.users == [1, 2, 3]
    es.indices.refresh(index=old["ratings"])
    held = {hit["_id"]: hit["_source"]["rating"] for hit in es.search(index=old["ratings"])["hits"]["hits"]}
    assert held == {f"1_{added}": 4.5, f"2_{added}": 3.0}  # none under 13, which v1 lacks; 3's deletion applied
    assert sorted(r["movie_id"] for r in added_carryover.fetch_added_movies(es, names)) == [added, quiet]
    assert added_carryover.split_out(es, names, "v1") == {}  # nothing merged is left to split
