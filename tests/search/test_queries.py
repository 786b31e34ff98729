import pytest

from movierec.search.queries import (
    MAX_NUM_CANDIDATES,
    MovieFilter,
    filter_clause,
    knn_body,
    num_candidates_for,
    suggest_body,
    title_search_body,
)


def test_knn_body_shape():
    body = knn_body([1, 2.5], k=5, filter={"term": {"genres": "Drama"}})
    assert body["knn"] == {
        "field": "item_vector",
        "query_vector": [1.0, 2.5],
        "k": 5,
        "num_candidates": 100,
        "filter": {"term": {"genres": "Drama"}},
    }
    assert body["size"] == 5


@pytest.mark.parametrize("k", [0, 101])
def test_knn_body_bounds_k(k):
    with pytest.raises(ValueError, match="k must be between 1 and 100"):
        knn_body([1.0], k=k)


def test_num_candidates_is_bounded():
    assert num_candidates_for(1) == 100
    assert num_candidates_for(100) == MAX_NUM_CANDIDATES


def test_filter_clause_builds_every_condition():
    clause = filter_clause(
        MovieFilter(
            genres_any=("Comedy",),
            genres_none=("Horror",),
            year_min=1990,
            year_max=1999,
            min_ratings=5,
            exclude_ids=(1,),
        )
    )
    assert clause == {
        "bool": {
            "filter": [
                {"terms": {"genres": ["Comedy"]}},
                {"range": {"year": {"gte": 1990, "lte": 1999}}},
                {"range": {"num_ratings": {"gte": 5}}},
            ],
            "must_not": [{"terms": {"genres": ["Horror"]}}, {"ids": {"values": ["1"]}}],
        }
    }
    assert filter_clause(MovieFilter()) is None
    assert filter_clause(None) is None


def test_title_search_uses_normalised_text_and_year():
    body = title_search_body("Heat 1995", limit=3)
    query = body["query"]["function_score"]["query"]
    assert query["bool"]["should"] == [{"term": {"year": {"value": 1995, "boost": 20.0}}}]
    inner = query["bool"]["must"][0]["bool"]["should"]
    assert inner[0] == {"terms": {"title_norm.kw": ["heat"], "boost": 12.0}}
    assert body["size"] == 3


def test_title_search_tries_the_title_without_its_article():
    inner = title_search_body("The Matrix")["query"]["function_score"]["query"]["bool"]["should"]
    assert inner[0]["terms"]["title_norm.kw"] == ["matrix", "the matrix"]


def test_suggest_body_normalises_the_prefix():
    assert suggest_body("Amél", size=3)["suggest"]["titles"]["prefix"] == "amel"
