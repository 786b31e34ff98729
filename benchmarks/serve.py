"""API latency and throughput over loopback, next to the bare Elasticsearch round trips.

    movierec es up && movierec pipeline run        # once
    .venv/bin/python benchmarks/serve.py [--seconds 10] [--workers 2]

Starts uvicorn as production would (N workers, no reload, no access log) on 127.0.0.1:8077,
drives it with an async httpx client at concurrency 1, 8 and 32 for a bounded time per cell, and
measures the same work straight against Elasticsearch with the async client in the same run.
The load generator shares the machine's cores with the API and Elasticsearch.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # run as a file, this folder would shadow the project's packages
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
from elasticsearch import AsyncElasticsearch

from movierec.config import PROJECT_ROOT, get_settings
from search import movies, queries, recommend
from search.indices import IndexNames
from search.title_queries import TITLE_QUERIES

PORT = 8077
TITLES = [q for q, _, _ in TITLE_QUERIES]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def drive(call, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = itertools.count()

    async def worker():
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await call(next(counter))
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": pct(latencies, 95) if latencies else float("nan"),
        "p99": pct(latencies, 99) if latencies else float("nan"),
        "rps": len(latencies) / elapsed,
    }


def start_api(workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1", "--port", str(PORT),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=os.environ.copy())
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the API did not become healthy on port 8077 (is the data indexed? `movierec pipeline run`)")


async def run(seconds: float, workers: int) -> list[tuple]:
    settings = get_settings()
    names = IndexNames(settings.index_prefix)
    es = AsyncElasticsearch(settings.es_url, request_timeout=10)
    probe = await es.search(index=names.movies, size=200, query={"exists": {"field": "item_vector"}}, source=["item_vector"])
    vectors = [hit["_source"]["item_vector"] for hit in probe["hits"]["hits"]]
    users = [hit["_source"]["user_id"] for hit in (await es.search(index=names.users, size=500, source=["user_id"]))["hits"]["hits"]]

    async def es_knn(i):
        await es.search(index=names.movies, body=queries.knn_body(vectors[i % len(vectors)], k=10))

    async def es_title_recs(i):
        seed = await movies.resolve_title(es, names, TITLES[i % len(TITLES)])
        await recommend.for_movie(es, names, seed, k=10)

    rows = []
    proc = start_api(workers)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", limits=limits, timeout=10) as api:

            async def ok(resp):
                (await resp).raise_for_status()

            scenarios = {
                "API title search": lambda i: ok(api.get("/movies/search", params={"q": TITLES[i % len(TITLES)]})),
                "API title -> recommendations": lambda i: ok(api.get("/recommendations", params={"title": TITLES[i % len(TITLES)], "k": 10})),
                "API user recommendations": lambda i: ok(api.get(f"/users/{users[i % len(users)]}/recommendations", params={"k": 10})),
                "ES bare kNN (1 round trip)": es_knn,
                "ES title -> recs (2 round trips)": es_title_recs,
            }
            for concurrency in (1, 8, 32):
                for label, call in scenarios.items():
                    await drive(call, concurrency, min(1.0, seconds))  # warm-up
                    rows.append((label, concurrency, await drive(call, concurrency, seconds)))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        await es.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = asyncio.run(run(args.seconds, args.workers))
    print(f"{'scenario':<34} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for label, concurrency, r in rows:
        print(f"{label:<34} {concurrency:>4} {r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} {r['rps']:>8.0f} {r['errors']:>6}")
    print(f"(uvicorn --workers {args.workers}, {args.seconds:.0f} s per cell, load generator on the same {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
