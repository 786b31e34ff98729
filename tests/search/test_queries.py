import pytest

from movierec.search.queries import (
    MAX_MMR_WINDOW,
    MAX_NUM_CANDIDATES,
    MAX_TERMS,
    MMR_CANDIDATE_FACTOR,
    USER_PAGE,
    MovieFilter,
    TermsLookup,
    VectorLookup,
    deletions_query,
    diversified_knn_body,
    filter_clause,
    knn_body,
    liked_by_page_body,
    live_ratings_query,
    merged_query,
    mmr_window,
    num_candidates_for,
    popular_body,
    rated_movie_ids_body,
    ratings_given_by_query,
    recommendation_body,
    suggest_body,
    title_search_body,
    user_page_body,
    user_query,
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
            "must_not": [{"terms": {"genres": ["Horror"]}}, {"terms": {"movie_id": [1]}}],
        }
    }
    assert filter_clause(MovieFilter()) is None
    assert filter_clause(None) is None


def test_rated_movies_are_excluded_by_a_terms_lookup_on_the_user_document():
    lookup = TermsLookup("movierec-users", "7", "rated_movie_ids")
    clause = filter_clause(MovieFilter(exclude_ids=(3,), exclude_lookup=lookup))
    assert clause == {
        "bool": {
            "filter": [],
            "must_not": [
                {"terms": {"movie_id": [3]}},
                {"terms": {"movie_id": {"index": "movierec-users", "id": "7", "path": "rated_movie_ids"}}},
            ],
        }
    }


def test_more_excluded_ids_than_one_terms_query_takes_are_split():
    ids = tuple(range(MAX_TERMS * 2 + 5))
    must_not = filter_clause(MovieFilter(exclude_ids=ids))["bool"]["must_not"]
    assert [len(c["terms"]["movie_id"]) for c in must_not] == [MAX_TERMS, MAX_TERMS, 5]
    assert [i for c in must_not for i in c["terms"]["movie_id"]] == list(ids)


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


def test_knn_body_with_a_lookup_sends_no_vector():
    lookup = VectorLookup("movierec-users", "7", "user_vector")
    body = knn_body(lookup, k=5)
    assert "query_vector" not in body["knn"]
    assert body["knn"]["query_vector_builder"] == {
        "lookup": {"index": "movierec-users", "id": "7", "path": "user_vector"}
    }
    assert body["knn"]["k"] == 5 and body["size"] == 5


def test_diversity_zero_is_the_plain_knn_body():
    flt = {"term": {"genres": "Drama"}}
    assert recommendation_body([1.0, 2.0], k=10, filter=flt) == knn_body([1.0, 2.0], k=10, filter=flt)
    assert recommendation_body([1.0, 2.0], k=10, filter=flt, diversity=0.0) == knn_body([1.0, 2.0], k=10, filter=flt)


def test_diversified_body_is_mmr_over_a_wider_filtered_knn():
    flt = {"bool": {"filter": [], "must_not": [{"ids": {"values": ["1"]}}]}}
    body = recommendation_body([1.0, 2.0], k=10, filter=flt, diversity=0.25)
    assert body["size"] == 10 and "knn" not in body
    mmr = body["retriever"]["diversify"]
    assert mmr["type"] == "mmr" and mmr["field"] == "item_vector"
    assert mmr["lambda"] == 0.75  # lambda = 1 - diversity
    assert mmr["rank_window_size"] == 10 * MMR_CANDIDATE_FACTOR == 50
    assert mmr["query_vector"] == [1.0, 2.0]
    inner = mmr["retriever"]["knn"]
    # The filter and exclusions run inside the candidate kNN, so every pick satisfies them.
    assert inner["filter"] == flt and inner["k"] == 50 and inner["num_candidates"] >= 50
    assert inner["query_vector"] == [1.0, 2.0]


def test_diversified_body_with_a_lookup_uses_it_twice():
    lookup = VectorLookup("movierec-movies", "1", "audience_vector")
    mmr = diversified_knn_body(lookup, k=3, diversity=1.0)["retriever"]["diversify"]
    assert mmr["lambda"] == 0.0
    assert mmr["query_vector_builder"] == lookup.builder() == mmr["retriever"]["knn"]["query_vector_builder"]


def test_mmr_window_is_bounded():
    assert mmr_window(1) == MMR_CANDIDATE_FACTOR and mmr_window(100) == MAX_MMR_WINDOW


@pytest.mark.parametrize("diversity", [-0.1, 1.5])
def test_diversity_outside_0_1_is_rejected(diversity):
    with pytest.raises(ValueError):
        diversified_knn_body([1.0], k=5, diversity=diversity)


def test_popular_body_keeps_the_filter_and_the_minimum():
    body = popular_body(k=4, filter={"term": {"genres": "Drama"}}, min_ratings=20)
    assert body["size"] == 4 and body["sort"] == [{"damped_rating": "desc"}]
    assert body["query"]["bool"]["filter"] == [{"term": {"genres": "Drama"}}, {"range": {"num_ratings": {"gte": 20}}}]
    assert popular_body(k=4)["query"]["bool"]["filter"][0] == {"match_all": {}}


def test_user_pages_are_sorted_by_movie_id_and_continue_after_the_last_hit():
    first = user_page_body(7, source=["movie_id", "rating"])
    assert first == {
        "size": USER_PAGE,
        "_source": ["movie_id", "rating"],
        "query": {"term": {"user_id": 7}},
        "sort": [{"movie_id": {"order": "asc", "missing": "_last"}}],
        "track_total_hits": False,
    }
    assert USER_PAGE == 10_000  # index.max_result_window: the most one search returns
    later = user_page_body(7, source=False, size=50, search_after=(1234,))
    assert (later["search_after"], later["size"], later["_source"]) == ([1234], 50, False)
    assert rated_movie_ids_body(7)["sort"] == first["sort"]


def test_liked_by_pages_cover_several_movies_in_a_total_order():
    first = liked_by_page_body([12, 5, 12], 4.0)
    assert first == {
        "size": USER_PAGE,
        "_source": ["movie_id", "user_id"],
        "query": {"bool": {"filter": [{"terms": {"movie_id": [5, 12]}}, {"range": {"rating": {"gte": 4.0}}}]}},
        "sort": [{"movie_id": "asc"}, {"user_id": "asc"}],
    }
    assert liked_by_page_body([5], 4.0, size=2, search_after=(5, 77))["search_after"] == [5, 77]


def test_live_ratings_query_selects_api_ratings_and_optionally_recent_ones():
    assert live_ratings_query() == {"bool": {"filter": [{"term": {"source": "api"}}]}}
    since = live_ratings_query(since=1_700_000_000)["bool"]["filter"][1]
    assert since == {"range": {"date": {"gte": 1_700_000_000, "format": "epoch_second"}}}


def test_deletions_query_all_or_since():
    assert deletions_query() == {"match_all": {}}
    assert deletions_query(since=5) == {"range": {"date": {"gte": 5, "format": "epoch_second"}}}


def test_an_erasure_drops_the_users_ratings_given_until_it():
    assert ratings_given_by_query(3, until=1_700_000_000) == {
        "bool": {
            "filter": [
                {"term": {"user_id": 3}},
                {"range": {"date": {"lte": 1_700_000_000, "format": "epoch_second"}}},
            ]
        }
    }
    assert user_query(3) == {"term": {"user_id": 3}}


def test_merged_query_finds_movie_records_a_run_merged():
    assert merged_query() == {"bool": {"filter": [{"term": {"kind": "movie"}}, {"exists": {"field": "merged_into"}}]}}
