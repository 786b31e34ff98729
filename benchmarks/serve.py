"""API latency and throughput over loopback, next to the bare Elasticsearch round trips.

First cell (issue 16's goal): API title -> recommendations, API user recommendations, the API for the
heaviest rater and a bare kNN taking turns at concurrency 1; the ratios to the bare kNN's p50 are printed.

    movierec es up && movierec pipeline run        # once
    .venv/bin/python benchmarks/serve.py [--seconds 10] [--workers 2] [--client aiohttp|httpx] [--port 8077]

Starts uvicorn as production would (N workers, no reload, no access log) on 127.0.0.1:8077,
drives it at concurrency 1, 8 and 32 for a bounded time per cell, and measures the same work
straight against Elasticsearch with the async ES client in the same run.

The API is driven with aiohttp by default: the async ES client talks to Elasticsearch through
aiohttp, so both sides of the API/ES ratio pay the same client cost and the ratio measures the
wrapper. `--client httpx` shows what a slower client adds (about 1.7 ms per request here).
The load generator shares the machine's cores with the API and Elasticsearch.

A second table compares, path by path, the query vector fetched and sent back (`two trips`) with
Elasticsearch reading it itself (`query_vector_builder.lookup`, 9.x), taking turns at concurrency 1
and as separate cells at 8: similar movies by id, a user's recommendations, a resolved title's list,
and the bare kNN. `search/recommend.py` keeps the faster form of each (README).
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
from movierec.search.consent import get_consent
from movierec.search.indices import IndexNames
from movierec.search.title_cache import TitleResolutions
from movierec.search.title_queries import TITLE_QUERIES

DEFAULT_PORT = 8077
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


def start_api(workers: int, port: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "movierec.service.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the API did not become healthy on port {port} (is the data indexed? `movierec pipeline run`)")


async def run(
    seconds: float, workers: int, client: str, port: int, only_lookups: bool = False
) -> tuple[list[tuple], list[tuple]]:
    settings = get_settings()
    names = IndexNames(settings.index_prefix)
    # A pool as large as the highest concurrency: the default 10 connections queue requests at 32.
    es = AsyncElasticsearch(settings.es_url, request_timeout=10, connections_per_node=64)
    probe = await es.search(
        index=names.movies,
        size=200,
        query={"exists": {"field": "audience_vector"}},
        source=["movie_id", "item_vector"],
        sort=[{"num_ratings": "desc"}],
    )
    vectors = [hit["_source"]["item_vector"] for hit in probe["hits"]["hits"]]
    movie_ids = [hit["_source"]["movie_id"] for hit in probe["hits"]["hits"]]
    users = [
        hit["_source"]["user_id"]
        for hit in (await es.search(index=names.users, size=500, source=["user_id"]))["hits"]["hits"]
    ]
    # The heaviest rater (ml-latest-small: user 414, 2,698 ratings): every one excluded inside the kNN.
    heavy = (await es.search(index=names.users, size=1, source=["user_id"], sort=[{"num_ratings": "desc"}]))["hits"][
        "hits"
    ][0]["_source"]["user_id"]
    titles = TitleResolutions()  # the ES side remembers exact titles as each API worker does

    def title(i: int) -> str:
        return TITLES[i % len(TITLES)]

    async def es_knn(i):
        await es.search(index=names.movies, body=queries.knn_body(vectors[i % len(vectors)], k=10))

    async def es_knn_lookup(i):
        lookup = queries.VectorLookup(names.movies, str(movie_ids[i % len(movie_ids)]), "item_vector")
        await es.search(index=names.movies, body=queries.knn_body(lookup, k=10))

    # Each path in the form search/recommend.py serves, and in the form it does not (kept here to re-measure).
    async def es_title_recs(i):  # served: a remembered exact title in one _msearch, others in two trips
        await recommend.for_title(es, names, title(i), k=10, resolutions=titles)

    async def es_title_recs_lookup(i):  # title search without vectors, kNN with lookup
        seed = await movies.resolve_title(es, names, title(i), with_vectors=False)
        await recommend.for_movie_id(es, names, seed.movie["movie_id"], k=10)

    async def es_similar(i):  # served: the movie with its vectors, then the kNN
        await recommend.similar_to(es, names, movie_ids[i % len(movie_ids)], k=10)

    async def es_similar_lookup(i):  # the movie and a kNN that looks its vector up, side by side
        movie_id = movie_ids[i % len(movie_ids)]
        await asyncio.gather(movies.get_movie(es, names, movie_id), recommend.for_movie_id(es, names, movie_id, k=10))

    async def es_user_recs(i):  # served: one kNN (vector and rated ids looked up) || the consent GET
        await recommend.for_user(es, names, users[i % len(users)], k=10)

    async def es_user_recs_fetched(i):  # rated || vector || consent, then the kNN with the vector
        user_id = users[i % len(users)]
        rated, doc, _consent = await asyncio.gather(
            recommend.rated_movie_ids(es, names, user_id),
            es.get(index=names.users, id=str(user_id), source_includes=["user_vector"]),
            get_consent(es, names, user_id, default=True),
        )
        flt = queries.MovieFilter(exclude_ids=tuple(rated))
        await recommend.knn_movies(es, names, doc["_source"]["user_vector"], k=10, flt=flt)

    rows = []
    proc = None if only_lookups else start_api(workers, port)
    api = DRIVERS[client](f"http://127.0.0.1:{port}")
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
            "ES title -> recs (1 msearch remembered)",
            es_title_recs,
        ),
        (
            "API user recommendations",
            lambda i: api.get(f"/users/{users[i % len(users)]}/recommendations", {"k": 10}),
            "ES user recs (kNN || consent)",
            es_user_recs,
        ),
        (
            "API similar movies by id",
            lambda i: api.get(f"/movies/{movie_ids[i % len(movie_ids)]}/similar", {"k": 10}),
            "ES similar by id (2 round trips)",
            es_similar,
        ),
    ]
    # The same path both ways: the vector fetched and sent back, or looked up inside the kNN request.
    lookups = [
        ("similar by id", es_similar, es_similar_lookup),
        ("user recommendations", es_user_recs_fetched, es_user_recs),
        # served (remembered: one _msearch) vs the full title search then a looked-up kNN
        ("title -> recommendations", es_title_recs, es_title_recs_lookup),
        ("bare kNN", es_knn, es_knn_lookup),
    ]
    compared = []
    api_title = pairs[1][1]
    api_user = pairs[2][1]

    def api_heavy(i):
        return api.get(f"/users/{heavy}/recommendations", {"k": 10})

    try:
        if not only_lookups:  # the goal's cell: the two API paths and a bare kNN taking turns at concurrency 1
            turns = [api_title, api_user, api_heavy, es_knn]
            await drive_alternating(turns, min(1.0, seconds))  # warm-up (and every table title remembered)
            for label, row in zip(TURN_LABELS, await drive_alternating(turns, seconds), strict=True):
                rows.append((label, 1, row))
        for api_label, api_call, es_label, es_call in [] if only_lookups else pairs:
            await drive_alternating([api_call, es_call], min(1.0, seconds))  # warm-up
            api_row, es_row = await drive_alternating([api_call, es_call], seconds)
            rows += [(api_label, 1, api_row), (es_label, 1, es_row)]
        if not only_lookups:
            await drive(es_knn, 1, min(1.0, seconds))
            rows.append(("ES bare kNN (1 round trip)", 1, await drive(es_knn, 1, seconds)))
        for concurrency in () if only_lookups else (8, 32):
            for label, call in [
                *((a, ac) for a, ac, _, _ in pairs),
                *((e, ec) for _, _, e, ec in pairs),
                ("ES bare kNN (1 round trip)", es_knn),
            ]:
                await drive(call, concurrency, min(1.0, seconds))  # warm-up
                rows.append((label, concurrency, await drive(call, concurrency, seconds)))
        for name, fetched, looked_up in lookups:
            await drive_alternating([fetched, looked_up], min(1.0, seconds))
            compared.append((name, 1, *await drive_alternating([fetched, looked_up], seconds)))
            compared.append((name, 8, await drive(fetched, 8, seconds), await drive(looked_up, 8, seconds)))
    finally:
        await api.close()
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
        await es.close()
    return rows, compared


# The issue-16 goal cell: API p50 / bare kNN p50, all four taking turns at concurrency 1 (goal <= 2.5x).
TURN_LABELS = [
    "API title -> recs (turns with kNN)",
    "API user recs (turns with kNN)",
    "API heavy user recs (turns with kNN)",
    "ES bare kNN (turns with the API)",
]

PAIRS = [
    ("title search", "API title search", "ES title search (1 round trip)"),
    ("title -> recommendations", "API title -> recommendations", "ES title -> recs (1 msearch remembered)"),
    ("user recommendations", "API user recommendations", "ES user recs (kNN || consent)"),
    ("similar movies by id", "API similar movies by id", "ES similar by id (2 round trips)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=sorted(DRIVERS), default="aiohttp", help="HTTP client driving the API")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port for the API under test")
    parser.add_argument("--only-lookups", action="store_true", help="only the two-trips vs lookup comparison")
    args = parser.parse_args()
    rows, compared = asyncio.run(run(args.seconds, args.workers, args.client, args.port, args.only_lookups))
    print(f"{'scenario':<38} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for label, concurrency, r in rows:
        cells = f"{r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} {r['rps']:>8.0f} {r['errors']:>6}"
        print(f"{label:<38} {concurrency:>4} {cells}")
    print(
        f"(uvicorn --workers {args.workers}, {args.client} client, {args.seconds:g} s per cell, "
        f"load generator on the same {os.cpu_count()} cores)"
    )
    if rows:
        p50 = {(label, c): r["p50"] for label, c, r in rows}
        print("API p50 / ES p50 at concurrency 1, measured taking turns (goal <= 1.5):")
        for name, api_label, es_label in PAIRS:
            print(f"  {name:<26} {p50[(api_label, 1)] / p50[(es_label, 1)]:.2f}x")
        knn = p50[(TURN_LABELS[-1], 1)]
        print("API p50 / bare kNN p50, the four taking turns at concurrency 1 (issue 16 goal <= 2.5x, aim 2.0x):")
        for name, label in zip(
            ("title -> recommendations", "user recommendations", "heavy user"), TURN_LABELS[:3], strict=True
        ):
            print(f"  {name:<26} {p50[(label, 1)] / knn:.2f}x")
    print("\nQuery vector fetched and sent back (two trips) vs looked up inside the kNN request (lookup), ES level:")
    print(f"{'path':<26} {'conc':>4} {'two trips p50':>14} {'lookup p50':>11} {'two trips p99':>14} {'lookup p99':>11}")
    for name, concurrency, fetched, looked_up in compared:
        print(
            f"{name:<26} {concurrency:>4} {fetched['p50']:>14.2f} {looked_up['p50']:>11.2f} "
            f"{fetched['p99']:>14.2f} {looked_up['p99']:>11.2f}"
        )
    for label, concurrency, r in rows + [
        (f"{name} ({form})", c, r)
        for name, c, *pair in compared
        for form, r in zip(("two trips", "lookup"), pair, strict=True)
    ]:
        if r["errors"]:
            print(f"first error in {label!r} at concurrency {concurrency}: {r['first_error']}")


if __name__ == "__main__":
    main()
