"""API latency and throughput over loopback, next to the bare Elasticsearch round trips.

    movierec es up && movierec pipeline run        # once
    .venv/bin/python benchmarks/serve.py [--seconds 10] [--workers 2] [--client aiohttp|httpx]

Starts uvicorn as production would (N workers, no reload, no access log) on 127.0.0.1:8077,
drives it at concurrency 1, 8 and 32 for a bounded time per cell, and measures the same work
straight against Elasticsearch with the async ES client in the same run.

The API is driven with aiohttp by default: the async ES client talks to Elasticsearch through
aiohttp, so both sides of the API/ES ratio pay the same client cost and the ratio measures the
wrapper. `--client httpx` shows what a slower client adds (about 1.7 ms per request here).
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

import aiohttp
import httpx
from elasticsearch import AsyncElasticsearch

from movierec.config import get_settings
from movierec.search import movies, queries, recommend
from movierec.search.indices import IndexNames
from movierec.search.title_queries import TITLE_QUERIES

PORT = 8077
TITLES = [q for q, _, _ in TITLE_QUERIES]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(latencies: list[float], errors: list[str], elapsed: float) -> dict:
    return {
        "n": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": pct(latencies, 95) if latencies else float("nan"),
        "p99": pct(latencies, 99) if latencies else float("nan"),
        "rps": len(latencies) / elapsed if elapsed else float("nan"),
    }


async def timed(call, i: int, latencies: list[float], errors: list[str]) -> float:
    started = time.perf_counter()
    try:
        await call(i)
    except Exception as exc:  # counted and shown: one failure must not end the benchmark
        errors.append(f"{type(exc).__name__}: {exc}")
    else:
        latencies.append((time.perf_counter() - started) * 1000)
    return time.perf_counter() - started


async def drive(call, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    counter = itertools.count()

    async def worker():
        while time.perf_counter() < deadline:
            await timed(call, next(counter), latencies, errors)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, errors, time.perf_counter() - started)


async def drive_alternating(calls: list, seconds: float) -> list[dict]:
    """Concurrency 1, the calls taking turns on the same inputs, in alternating order.

    Back-to-back cells drift apart (Elasticsearch keeps warming up, the machine's noise changes),
    which moves an API/ES ratio by more than the wrapper costs; taking turns removes the drift, and
    alternating who goes first gives neither side the other's warm caches.
    """
    latencies: list[list[float]] = [[] for _ in calls]
    errors: list[list[str]] = [[] for _ in calls]
    busy = [0.0] * len(calls)
    deadline = time.perf_counter() + seconds
    for i in itertools.count():
        if time.perf_counter() >= deadline:
            break
        order = range(len(calls)) if i % 2 == 0 else reversed(range(len(calls)))
        for j in order:
            busy[j] += await timed(calls[j], i, latencies[j], errors[j])
    return [summary(lat, err, b) for lat, err, b in zip(latencies, errors, busy, strict=True)]


class HttpxDriver:
    def __init__(self, base_url: str) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10)

    async def get(self, path: str, params: dict) -> None:
        (await self.client.get(path, params=params)).raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()


class AiohttpDriver:
    def __init__(self, base_url: str) -> None:
        connector = aiohttp.TCPConnector(limit=64)
        self.session = aiohttp.ClientSession(base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=10))

    async def get(self, path: str, params: dict) -> None:
        async with self.session.get(path, params=params) as resp:
            resp.raise_for_status()
            await resp.read()

    async def close(self) -> None:
        await self.session.close()


DRIVERS = {"aiohttp": AiohttpDriver, "httpx": HttpxDriver}


def start_api(workers: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "movierec.service.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the API did not become healthy on port 8077 (is the data indexed? `movierec pipeline run`)")


async def run(seconds: float, workers: int, client: str) -> list[tuple]:
    settings = get_settings()
    names = IndexNames(settings.index_prefix)
    # A pool as large as the highest concurrency: the default 10 connections queue requests at 32.
    es = AsyncElasticsearch(settings.es_url, request_timeout=10, connections_per_node=64)
    probe = await es.search(
        index=names.movies, size=200, query={"exists": {"field": "item_vector"}}, source=["item_vector"]
    )
    vectors = [hit["_source"]["item_vector"] for hit in probe["hits"]["hits"]]
    users = [
        hit["_source"]["user_id"]
        for hit in (await es.search(index=names.users, size=500, source=["user_id"]))["hits"]["hits"]
    ]

    def title(i: int) -> str:
        return TITLES[i % len(TITLES)]

    async def es_knn(i):
        await es.search(index=names.movies, body=queries.knn_body(vectors[i % len(vectors)], k=10))

    async def es_title_recs(i):
        seed = await movies.resolve_title(es, names, title(i))
        await recommend.for_movie(es, names, seed, k=10)

    rows = []
    proc = start_api(workers)
    api = DRIVERS[client](f"http://127.0.0.1:{PORT}")
    # Each API scenario next to the same search/ calls made straight against Elasticsearch.
    pairs = [
        (
            "API title search",
            lambda i: api.get("/movies/search", {"q": title(i)}),
            "ES title search (1 round trip)",
            lambda i: movies.search_titles(es, names, title(i)),
        ),
        (
            "API title -> recommendations",
            lambda i: api.get("/recommendations", {"title": title(i), "k": 10}),
            "ES title -> recs (2 round trips)",
            es_title_recs,
        ),
        (
            "API user recommendations",
            lambda i: api.get(f"/users/{users[i % len(users)]}/recommendations", {"k": 10}),
            "ES user recs (2 round trips)",
            lambda i: recommend.for_user(es, names, users[i % len(users)], k=10),
        ),
    ]
    try:
        for api_label, api_call, es_label, es_call in pairs:
            await drive_alternating([api_call, es_call], min(1.0, seconds))  # warm-up
            api_row, es_row = await drive_alternating([api_call, es_call], seconds)
            rows += [(api_label, 1, api_row), (es_label, 1, es_row)]
        await drive(es_knn, 1, min(1.0, seconds))
        rows.append(("ES bare kNN (1 round trip)", 1, await drive(es_knn, 1, seconds)))
        for concurrency in (8, 32):
            for label, call in [
                *((a, ac) for a, ac, _, _ in pairs),
                *((e, ec) for _, _, e, ec in pairs),
                ("ES bare kNN (1 round trip)", es_knn),
            ]:
                await drive(call, concurrency, min(1.0, seconds))  # warm-up
                rows.append((label, concurrency, await drive(call, concurrency, seconds)))
    finally:
        await api.close()
        proc.terminate()
        proc.wait(timeout=20)
        await es.close()
    return rows


PAIRS = [
    ("title search", "API title search", "ES title search (1 round trip)"),
    ("title -> recommendations", "API title -> recommendations", "ES title -> recs (2 round trips)"),
    ("user recommendations", "API user recommendations", "ES user recs (2 round trips)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=sorted(DRIVERS), default="aiohttp", help="HTTP client driving the API")
    args = parser.parse_args()
    rows = asyncio.run(run(args.seconds, args.workers, args.client))
    print(f"{'scenario':<34} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for label, concurrency, r in rows:
        cells = f"{r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} {r['rps']:>8.0f} {r['errors']:>6}"
        print(f"{label:<34} {concurrency:>4} {cells}")
    print(
        f"(uvicorn --workers {args.workers}, {args.client} client, {args.seconds:g} s per cell, "
        f"load generator on the same {os.cpu_count()} cores)"
    )
    p50 = {(label, c): r["p50"] for label, c, r in rows}
    print("API p50 / ES p50 at concurrency 1, measured taking turns (goal <= 1.5):")
    for name, api_label, es_label in PAIRS:
        print(f"  {name:<26} {p50[(api_label, 1)] / p50[(es_label, 1)]:.2f}x")
    for label, concurrency, r in rows:
        if r["errors"]:
            print(f"first error in {label!r} at concurrency {concurrency}: {r['first_error']}")


if __name__ == "__main__":
    main()
