"""Pure builders for every query body the system sends (tested without a server)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from movierec.search.domain import RatingSource
from movierec.search.text import normalize, split_query_year, strip_article

MAX_K = 100
MAX_NUM_CANDIDATES = 1000
MOVIE_SOURCE = ["movie_id", "title", "year", "genres", "avg_rating", "damped_rating", "num_ratings", "popularity"]


# index.max_terms_count's default: the most values one `terms` query takes (a terms lookup included).
MAX_TERMS = 65_536


@dataclass(frozen=True)
class TermsLookup:
    """Values Elasticsearch reads from a stored document's field while it runs the query (a terms
    lookup): a user's rated movie ids excluded without shipping them through the client."""

    index: str
    id: str
    path: str

    def clause(self, field: str) -> dict:
        return {"terms": {field: {"index": self.index, "id": self.id, "path": self.path}}}


@dataclass(frozen=True)
class MovieFilter:
    genres_any: tuple[str, ...] = ()
    genres_none: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    min_ratings: int | None = None
    exclude_ids: tuple[int, ...] = ()
    exclude_lookup: TermsLookup | None = None  # movie ids to exclude, read from a document


def filter_clause(flt: MovieFilter | None) -> dict | None:
    """A bool filter for use inside kNN (pre-filtering, so k results still come back)."""
    if flt is None:
        return None
    must: list[dict] = []
    must_not: list[dict] = []
    if flt.genres_any:
        must.append({"terms": {"genres": list(flt.genres_any)}})
    if flt.genres_none:
        must_not.append({"terms": {"genres": list(flt.genres_none)}})
    if flt.year_min is not None or flt.year_max is not None:
        bounds = {key: value for key, value in (("gte", flt.year_min), ("lte", flt.year_max)) if value is not None}
        must.append({"range": {"year": bounds}})
    if flt.min_ratings:
        must.append({"range": {"num_ratings": {"gte": flt.min_ratings}}})
    if flt.exclude_ids:
        # `terms` on the field, not `ids`: an `ids` query refuses more than index.max_result_window
        # (10,000) values, and a heavy user's rated movies exceed that; one `terms` takes MAX_TERMS, so
        # more are split over several clauses.
        ids = list(flt.exclude_ids)
        must_not += [{"terms": {"movie_id": ids[i : i + MAX_TERMS]}} for i in range(0, len(ids), MAX_TERMS)]
    if flt.exclude_lookup is not None:
        must_not.append(flt.exclude_lookup.clause("movie_id"))
    if not must and not must_not:
        return None
    return {"bool": {"filter": must, "must_not": must_not}}


def num_candidates_for(k: int) -> int:
    # HNSW recall on these small vectors is ~1.0 from about 10x k candidates.
    return min(max(10 * k, 100), MAX_NUM_CANDIDATES)


@dataclass(frozen=True)
class VectorLookup:
    """A query vector read by Elasticsearch from a stored document (`query_vector_builder.lookup`, 9.x),
    in the same request as the kNN: no round trip to fetch it, no vector sent back and forth."""

    index: str
    id: str
    path: str

    def builder(self) -> dict:
        return {"lookup": {"index": self.index, "id": self.id, "path": self.path}}


QueryVector = Sequence[float] | VectorLookup


def query_vector_clause(query: QueryVector) -> dict:
    """`{"query_vector": [...]}` or `{"query_vector_builder": {"lookup": ...}}`, for kNN and diversify."""
    if isinstance(query, VectorLookup):
        return {"query_vector_builder": query.builder()}
    return {"query_vector": [float(x) for x in query]}


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")


def knn_clause(
    query: QueryVector,
    *,
    k: int,
    num_candidates: int | None = None,
    filter: dict | None = None,
    field: str = "item_vector",
) -> dict:
    candidates = num_candidates or num_candidates_for(k)
    knn: dict = {"field": field, **query_vector_clause(query), "k": k, "num_candidates": max(candidates, k)}
    if filter:
        knn["filter"] = filter
    return knn


def knn_body(
    query: QueryVector,
    *,
    k: int,
    num_candidates: int | None = None,
    filter: dict | None = None,
    field: str = "item_vector",
    source: Sequence[str] = MOVIE_SOURCE,
) -> dict:
    """Top k by inner product; `query` is a vector or a `VectorLookup`; the filter runs inside the kNN."""
    _check_k(k)
    knn = knn_clause(query, k=k, num_candidates=num_candidates, filter=filter, field=field)
    return {"knn": knn, "size": k, "_source": list(source)}


# Diversity: MMR re-ranks a wider kNN candidate set. 5 x k candidates (50 for k = 10) leave MMR room to
# trade relevance for variety while every candidate is still a good match (benchmarks/diversity.py).
MMR_CANDIDATE_FACTOR = 5
MAX_MMR_WINDOW = MAX_K * MMR_CANDIDATE_FACTOR


def mmr_window(k: int) -> int:
    return min(k * MMR_CANDIDATE_FACTOR, MAX_MMR_WINDOW)


def diversified_knn_body(
    query: QueryVector,
    *,
    k: int,
    diversity: float,
    filter: dict | None = None,
    field: str = "item_vector",
    source: Sequence[str] = MOVIE_SOURCE,
) -> dict:
    """The `diversify` retriever (type `mmr`, Elasticsearch 9.x) over a kNN of `mmr_window(k)` candidates.

    MMR picks k of them greedily by lambda * sim(query, d) - (1 - lambda) * max sim(d, picked), with
    lambda = 1 - diversity and sim the field's inner product. Elasticsearch returns the picks in the kNN's
    order (by relevance, with their kNN scores), so the list still reads best first. Filters and exclusions
    run inside the kNN, so all k picks satisfy them.
    """
    _check_k(k)
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be between 0 and 1, got {diversity}")
    window = mmr_window(k)
    inner = {"knn": knn_clause(query, k=window, filter=filter, field=field)}
    diversify = {
        "type": "mmr",
        "field": field,
        "lambda": round(1.0 - diversity, 6),
        "rank_window_size": window,
        **query_vector_clause(query),
        "retriever": inner,
    }
    return {"retriever": {"diversify": diversify}, "size": k, "_source": list(source)}


def recommendation_body(
    query: QueryVector,
    *,
    k: int,
    filter: dict | None = None,
    diversity: float = 0.0,
    source: Sequence[str] = MOVIE_SOURCE,
) -> dict:
    """Diversity 0 is the plain kNN (today's ranking, byte for byte); above 0 the MMR retriever."""
    if diversity:
        return diversified_knn_body(query, k=k, diversity=diversity, filter=filter, source=source)
    return knn_body(query, k=k, filter=filter, source=source)


def popular_body(*, k: int, filter: dict | None = None, min_ratings: int = 20) -> dict:
    """Best damped average among movies with enough ratings to trust it."""
    clause = filter or {"match_all": {}}
    return {
        "size": k,
        "_source": list(MOVIE_SOURCE),
        "query": {"bool": {"filter": [clause, {"range": {"num_ratings": {"gte": min_ratings}}}]}},
        "sort": [{"damped_rating": "desc"}],
    }


def title_search_body(
    query: str, *, limit: int = 10, source: Sequence[str] = MOVIE_SOURCE, fuzzy: bool = True, versions: bool = False
) -> dict:
    """Exact, phrase, all-words, prefix and fuzzy clauses; a year in the query boosts that year;
    popularity breaks ties between equally good matches. `fuzzy=False` leaves the fuzzy clause out, for a
    query known to match a title exactly: it is half the query's cost (4.50 -> 2.45 ms p50 on
    ml-latest-small, under load, /tmp probe of the 50 table queries in turns; a kNN 3.22 ms). `versions`:
    each hit carries its `_seq_no` and `_primary_term` (title_cache.py checks a remembered vector with them)."""
    text, year = split_query_year(query)
    if not text:
        text = normalize(query)
    bare = strip_article(text)
    forms = sorted({text, bare})
    fields = ["title_norm^1.2", "alt_titles_norm"]
    should: list[dict] = [
        {"terms": {"title_norm.kw": forms, "boost": 12.0}},
        {"terms": {"alt_titles_norm.kw": forms, "boost": 10.0}},
        {"terms": {"title_keys": forms, "boost": 8.0}},
        {"multi_match": {"query": text, "type": "phrase", "fields": fields, "boost": 4.0}},
        {"multi_match": {"query": text, "type": "best_fields", "fields": fields, "operator": "and", "boost": 3.0}},
        {"multi_match": {"query": text, "type": "bool_prefix", "fields": fields, "operator": "and", "boost": 2.0}},
        {
            # One fuzzy clause (each costs ~1.3 ms on ml-latest-small): every word up to two words,
            # 75% beyond, so one mistyped or extra word still matches but one fuzzy word of several is noise.
            "multi_match": {
                "query": text,
                "type": "best_fields",
                "fields": fields,
                "fuzziness": "AUTO",
                "prefix_length": 1,
                "minimum_should_match": "2<75%",
                "boost": 1.5,
            }
        },
    ]
    if not fuzzy:
        should.pop()
    query: dict = {"bool": {"should": should, "minimum_should_match": 1}}
    if year is not None:
        query = {"bool": {"must": [query], "should": [{"term": {"year": {"value": year, "boost": 20.0}}}]}}
    body: dict = {
        "size": limit,
        "_source": list(source),
        "query": {
            "function_score": {
                "query": query,
                "functions": [{"field_value_factor": {"field": "popularity", "modifier": "log1p", "missing": 0}}],
                "boost_mode": "sum",
                "score_mode": "sum",
            }
        },
    }
    if versions:
        body["seq_no_primary_term"] = True
    return body


def suggest_body(prefix: str, *, size: int = 10) -> dict:
    return {
        "_source": ["movie_id", "title", "year", "genres", "num_ratings"],
        "suggest": {
            "titles": {
                "prefix": normalize(prefix),
                "completion": {"field": "suggest", "size": size, "skip_duplicates": True},
            }
        },
    }


# One user's documents (ratings, deletions) are read page by page with search_after. A page is the most
# one search may return (index.max_result_window, 10,000), so nearly every user takes one round trip
# (ml-latest-small's heaviest rater has 2,698 ratings) and a heavier one takes more, never a cut-off.
USER_PAGE = 10_000


def user_query(user_id: int) -> dict:
    return {"term": {"user_id": user_id}}


def user_page_body(
    user_id: int, *, source: Sequence[str] | bool, size: int = USER_PAGE, search_after: Sequence | None = None
) -> dict:
    """One page of the user's documents in movie id order, after `search_after` (the last hit's `sort`).

    Sorting by movie id alone is a total order: documents are stored under `<user>_<movie>` (a user
    rates a movie once, a deletion is recorded once), so within one user no two share a movie id and
    no tiebreak field is needed. The one document without a movie id (an erasure record) sorts last.
    """
    body: dict = {
        "size": size,
        "_source": list(source) if not isinstance(source, bool) else source,
        "query": user_query(user_id),
        "sort": [{"movie_id": {"order": "asc", "missing": "_last"}}],
        "track_total_hits": False,
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    return body


def rated_movie_ids_body(user_id: int, *, limit: int = USER_PAGE) -> dict:
    """The first page of the user's rated movie ids; read every page with `ratings.rated_movie_ids`."""
    return user_page_body(user_id, source=["movie_id"], size=limit)


def liked_by_page_body(
    movie_ids: Sequence[int], min_rating: float, *, size: int = USER_PAGE, search_after: Sequence | None = None
) -> dict:
    """One page of the (movie, user) pairs whose stored rating is `min_rating` or more, for several
    movies at once, in (movie id, user id) order (one rating per user and movie, so the order is total):
    audiences recomputed from the stored ratings, one paged search for a whole batch of movies."""
    body: dict = {
        "size": size,
        "_source": ["movie_id", "user_id"],
        "query": {
            "bool": {
                "filter": [
                    {"terms": {"movie_id": sorted(set(movie_ids))}},
                    {"range": {"rating": {"gte": min_rating}}},
                ]
            }
        },
        "sort": [{"movie_id": "asc"}, {"user_id": "asc"}],
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    return body


def live_ratings_query(*, since: int | None = None) -> dict:
    """Ratings given through the API, optionally only those dated `since` (epoch seconds) or later."""
    filters: list[dict] = [{"term": {"source": RatingSource.API.value}}]
    if since is not None:
        filters.append({"range": {"date": {"gte": since, "format": "epoch_second"}}})
    return {"bool": {"filter": filters}}


def match_all() -> dict:
    return {"match_all": {}}


def deletions_query(*, since: int | None = None) -> dict:
    """Every deletion record, optionally only those made at `since` (epoch seconds) or later."""
    if since is None:
        return match_all()
    return {"range": {"date": {"gte": since, "format": "epoch_second"}}}


def ratings_given_by_query(user_id: int, *, until: int) -> dict:
    """The user's ratings given at `until` (epoch seconds, the ratings' unit) or before: what an erasure drops."""
    return {"bool": {"filter": [user_query(user_id), {"range": {"date": {"lte": until, "format": "epoch_second"}}}]}}


# ---- movies added through the API (search/added_movies.py) ----------------------------------


def same_movie_body(title_norm: str, year: int | None, *, source: Sequence[str] = MOVIE_SOURCE) -> dict:
    """The movies with exactly this normalised title and year (no year: those without one): a duplicate."""
    year_clause = (
        {"term": {"year": year}} if year is not None else {"bool": {"must_not": {"exists": {"field": "year"}}}}
    )
    return {
        "size": 1,
        "_source": list(source),
        "query": {"bool": {"filter": [{"term": {"title_norm.kw": title_norm}}, year_clause]}},
        "sort": [{"movie_id": "asc"}],
    }


def genre_peers_body(genres: Sequence[str], *, match_all_genres: bool, size: int) -> dict:
    """Trained movies sharing `genres` (all of them, or any), most rated first: a new movie's content peers."""
    terms = [{"term": {"genres": g}} for g in genres]
    genre_clause = (
        {"bool": {"filter": terms}} if match_all_genres else {"bool": {"should": terms, "minimum_should_match": 1}}
    )
    filters: list[dict] = [{"exists": {"field": "item_vector"}}]
    if terms:
        filters.append(genre_clause)
    # Trained vectors only (an index from before `vector_source` has none other): no estimate from estimates.
    untrained = {"terms": {"vector_source": ["content", "fold-in"]}}
    return {
        "size": size,
        "_source": ["item_vector", "audience_vector"],
        "query": {"bool": {"filter": filters, "must_not": [untrained]}},
        "sort": [{"num_ratings": "desc"}, {"movie_id": "asc"}],
        "track_total_hits": False,
    }


def folded_in_movies_query() -> dict:
    """Movies whose item vector the item fold-in gave (added after training): the user fold-in's Gram lacks them."""
    return {"bool": {"filter": [{"term": {"vector_source": "fold-in"}}, {"exists": {"field": "item_vector"}}]}}


def movie_ratings_query(movie_id: int) -> dict:
    return {"term": {"movie_id": movie_id}}


def added_movies_query(*, kind: str = "movie") -> dict:
    return {"term": {"kind": kind}}


def merged_query() -> dict:
    """The added movies that a run merged into a file's movie."""
    return {"bool": {"filter": [added_movies_query(), {"exists": {"field": "merged_into"}}]}}
