"""The dashboard's key charts as Elasticsearch aggregations: rating distribution, activity over time,
mean rating by genre (with a 95% interval), the embedding map, a few demo users.

Each chart is a pure pair (`*_body` builds the request, `parse_*` reads the answer), run by the async
executors here (the web page's API) or a sync client (`movierec report`), so both show the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

from elasticsearch import AsyncElasticsearch

from movierec.genres import main_genre
from movierec.search.indices import IndexNames

MAP_LIMIT = 2000
MAP_MAX = 5000
Z95 = 1.96
ACTIVITY_RANGES = ((1, 20), (20, 50), (50, 100), (100, 200), (200, 500), (500, 1000), (1000, None))


def ratings_body() -> dict:
    return {
        "size": 0,
        "aggs": {
            "stars": {"histogram": {"field": "rating", "interval": 0.5, "extended_bounds": {"min": 0.5, "max": 5}}},
            "stats": {"stats": {"field": "rating"}},
        },
    }


def parse_ratings(resp: dict) -> dict:
    buckets = resp["aggregations"]["stars"]["buckets"]
    stats = resp["aggregations"]["stats"]
    total = stats["count"] or 1
    half = sum(b["doc_count"] for b in buckets if b["key"] % 1 == 0.5)
    return {
        "stars": [{"stars": b["key"], "ratings": b["doc_count"]} for b in buckets],
        "total": stats["count"],
        "mean": stats["avg"],
        "share_half_stars": half / total,
    }


def activity_body() -> dict:
    ranges = [{"from": lo, **({"to": hi} if hi else {})} for lo, hi in ACTIVITY_RANGES]
    return {
        "size": 0,
        "aggs": {
            "per_user": {"range": {"field": "num_ratings", "ranges": ranges}},
            "levels": {"terms": {"field": "activity_level", "size": 10}},
            "stats": {"stats": {"field": "num_ratings"}},
            "median": {"percentiles": {"field": "num_ratings", "percents": [50]}},
        },
    }


def timeline_body() -> dict:
    return {
        "size": 0,
        "aggs": {
            "years": {
                "date_histogram": {"field": "date", "calendar_interval": "year", "format": "yyyy", "min_doc_count": 0},
                "aggs": {"users": {"cardinality": {"field": "user_id"}}, "mean": {"avg": {"field": "rating"}}},
            }
        },
    }


def parse_activity(users_resp: dict, timeline_resp: dict) -> dict:
    aggs = users_resp["aggregations"]
    per_user = []
    for bucket in aggs["per_user"]["buckets"]:
        lo, hi = int(bucket["from"]), bucket.get("to")
        label = f"{lo}+" if hi is None else f"{lo}-{int(hi) - 1}"
        per_user.append({"ratings": label, "users": bucket["doc_count"]})
    years = [
        {
            "year": int(b["key_as_string"]),
            "ratings": b["doc_count"],
            "users": b["users"]["value"],
            "mean_rating": b["mean"]["value"],
        }
        for b in timeline_resp["aggregations"]["years"]["buckets"]
    ]
    return {
        "users": aggs["stats"]["count"],
        "median_ratings_per_user": aggs["median"]["values"].get("50.0"),
        "max_ratings_per_user": aggs["stats"]["max"],
        "per_user": per_user,
        "levels": {b["key"]: b["doc_count"] for b in aggs["levels"]["buckets"]},
        "years": years,
    }


def genres_body(size: int = 30) -> dict:
    return {
        "size": 0,
        "aggs": {
            "genres": {
                "terms": {"field": "genres", "size": size},
                "aggs": {"rating": {"extended_stats": {"field": "rating"}}},
            }
        },
    }


def parse_genres(resp: dict) -> list[dict]:
    rows = []
    for bucket in resp["aggregations"]["genres"]["buckets"]:
        stats = bucket["rating"]
        n = stats["count"]
        sd = stats.get("std_deviation_sampling") or stats.get("std_deviation") or 0.0
        half = Z95 * sd / math.sqrt(n) if n > 1 else 0.0
        mean = stats["avg"]
        rows.append({"genre": bucket["key"], "ratings": n, "mean": mean, "low": mean - half, "high": mean + half})
    return sorted(rows, key=lambda r: -r["mean"])


def embedding_body(limit: int = MAP_LIMIT, min_ratings: int = 1) -> dict:
    return {
        "size": limit,
        "track_total_hits": True,
        "query": {
            "bool": {"filter": [{"exists": {"field": "embedding_x"}}, {"range": {"num_ratings": {"gte": min_ratings}}}]}
        },
        "sort": [{"num_ratings": "desc"}, {"movie_id": "asc"}],
        "_source": ["movie_id", "title", "year", "genres", "num_ratings", "avg_rating", "embedding_x", "embedding_y"],
    }


def parse_embedding(resp: dict, limit: int) -> dict:
    points = []
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        points.append(
            {
                "movie_id": src["movie_id"],
                "title": src["title"],
                "year": src.get("year"),
                "genres": src.get("genres", []),
                "genre": main_genre(src.get("genres")),
                "num_ratings": src.get("num_ratings", 0),
                "avg_rating": src.get("avg_rating"),
                "x": src["embedding_x"],
                "y": src["embedding_y"],
            }
        )
    total = resp["hits"]["total"]["value"]
    return {"limit": limit, "total": total, "shown": len(points), "truncated": total > len(points), "points": points}


def demo_users_body(size: int = 200) -> dict:
    return {
        "size": size,
        "_source": ["user_id", "num_ratings", "avg_rating", "favourite_genres", "activity_level"],
        "query": {"bool": {"filter": [{"terms": {"activity_level": ["regular", "heavy"]}}]}},
        "sort": [{"user_id": "asc"}],
    }


def parse_demo_users(resp: dict, count: int = 6) -> list[dict]:
    """A few users with different favourite genres, so the demo shows different tastes."""
    chosen, seen = [], set()
    for hit in resp["hits"]["hits"]:
        src = hit["_source"]
        top = (src.get("favourite_genres") or ["?"])[0]
        if top in seen:
            continue
        seen.add(top)
        chosen.append({k: src.get(k) for k in ("user_id", "num_ratings", "avg_rating", "favourite_genres")})
        if len(chosen) == count:
            break
    return chosen


# ---- executors --------------------------------------------------------------------------------


async def ratings(es: AsyncElasticsearch, names: IndexNames) -> dict:
    return parse_ratings(await es.search(index=names.ratings, body=ratings_body()))


async def activity(es: AsyncElasticsearch, names: IndexNames) -> dict:
    users = await es.search(index=names.users, body=activity_body())
    timeline = await es.search(index=names.ratings, body=timeline_body())
    return parse_activity(users, timeline)


async def genres(es: AsyncElasticsearch, names: IndexNames) -> list[dict]:
    return parse_genres(await es.search(index=names.ratings, body=genres_body()))


async def embedding(es: AsyncElasticsearch, names: IndexNames, *, limit: int = MAP_LIMIT, min_ratings: int = 1) -> dict:
    return parse_embedding(await es.search(index=names.movies, body=embedding_body(limit, min_ratings)), limit)


async def demo_users(es: AsyncElasticsearch, names: IndexNames, *, count: int = 6) -> list[dict]:
    return parse_demo_users(await es.search(index=names.users, body=demo_users_body()), count)


def sync_charts(es: Any, names: IndexNames, *, limit: int = MAP_LIMIT) -> dict:
    """Every chart's data with a sync client (the report's path)."""
    return {
        "ratings": parse_ratings(es.search(index=names.ratings, body=ratings_body())),
        "activity": parse_activity(
            es.search(index=names.users, body=activity_body()), es.search(index=names.ratings, body=timeline_body())
        ),
        "genres": parse_genres(es.search(index=names.ratings, body=genres_body())),
        "embedding": parse_embedding(es.search(index=names.movies, body=embedding_body(limit)), limit),
    }
