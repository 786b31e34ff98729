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
