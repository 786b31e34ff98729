"""Search-layer benchmark against the indexed data (ES level, no HTTP in between).

    movierec es up && movierec pipeline run     # once
    .venv/bin/python benchmarks/search.py [--rounds 20]

Prints: top-1/top-3 accuracy of the title table, p50/p99 latency of title search, autocomplete
and title -> recommendations, and HNSW recall@10 against exact NumPy search.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
from elasticsearch import AsyncElasticsearch, Elasticsearch, helpers

from movierec.config import get_settings
from movierec.search import movies, queries, recommend
from movierec.search.indices import IndexNames
from movierec.search.title_queries import TITLE_QUERIES


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def timed(samples: list[float], coro):
    started = time.perf_counter()
    result = await coro
    samples.append((time.perf_counter() - started) * 1000)
    return result


async def latency_and_accuracy(es_url: str, names: IndexNames, rounds: int) -> list[tuple]:
    es = AsyncElasticsearch(es_url)
    rows = []
    try:
        top1 = top3 = 0
        for query, expected, _ in TITLE_QUERIES:
            ids = [m["movie_id"] for m in await movies.search_titles(es, names, query, limit=3)]
            top1 += ids[:1] == [expected]
            top3 += expected in ids
        n = len(TITLE_QUERIES)
        rows.append(("title table top-1 accuracy", f"{top1}/{n} = {top1 / n:.3f}"))
        rows.append(("title table top-3 accuracy", f"{top3}/{n} = {top3 / n:.3f}"))

        search_ms, suggest_ms, recs_ms = [], [], []
        for _ in range(rounds):
            for query, _, _ in TITLE_QUERIES:
                await timed(search_ms, movies.search_titles(es, names, query, limit=10))
                await timed(suggest_ms, movies.suggest(es, names, query[:6], size=10))

                await timed(recs_ms, recommend.for_title(es, names, query, k=10))
        for label, samples in (
            ("title search", search_ms),
            ("autocomplete (suggest)", suggest_ms),
            ("title -> recommendations (2 round trips)", recs_ms),
        ):
            rows.append(
                (
                    f"{label} p50 / p99 ms",
                    f"{statistics.median(samples):.2f} / {pct(samples, 99):.2f}  (n={len(samples)})",
                )
            )
    finally:
        await es.close()
    return rows


def hnsw_recall(es_url: str, names: IndexNames, n_queries: int = 500, k: int = 10) -> tuple:
    es = Elasticsearch(es_url)
    docs = list(
        helpers.scan(
            es,
            index=names.movies,
            query={"_source": ["movie_id", "item_vector"], "query": {"exists": {"field": "item_vector"}}},
        )
    )
    ids = np.array([d["_source"]["movie_id"] for d in docs])
    vectors = np.array([d["_source"]["item_vector"] for d in docs], dtype=np.float32)
    picks = np.random.default_rng(0).choice(len(vectors), min(n_queries, len(vectors)), replace=False)
    hits = 0
    for i in picks:
        exact = set(ids[np.argsort(-(vectors @ vectors[i]))[:k]])
        got = {
            h["_source"]["movie_id"]
            for h in es.search(index=names.movies, **queries.knn_body(vectors[i].tolist(), k=k))["hits"]["hits"]
        }
        hits += len(exact & got)
    es.close()
    return (
        f"HNSW recall@{k} vs exact ({len(picks)} queries, {len(vectors)} vectors)",
        f"{hits / (k * len(picks)):.4f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    settings = get_settings()
    names = IndexNames(settings.index_prefix)
    rows = asyncio.run(latency_and_accuracy(settings.es_url, names, args.rounds))
    rows.append(hnsw_recall(settings.es_url, names))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
