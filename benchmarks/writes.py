"""Sustained rating writes through the API, with all live updates on and with only the user fold-in,
next to title -> recommendation reads in the same run.

    movierec es up && movierec pipeline run        # once; the writes land in that deployment
    .venv/bin/python benchmarks/writes.py [--seconds 10] [--workers 2] [--port 8404]

For each mode (`live`: user fold-in, movie statistics, audience sums; `fold-in only`:
MOVIEREC_LIVE_UPDATES=false) it starts uvicorn as production would (N workers) and drives, for a
bounded time per cell: single ratings at concurrency 1 and 8 (each by a new user, so no two writers
share a user, as the issue's baseline), and batches of 100 and 1,000 events (POST /ratings:bulk) at
concurrency 1 and 8. Then title -> recommendation reads at concurrency 8 for the ratio the issue sets
(single writes at concurrency 8 at least half the read rate). Every number: ratings (events) per
second, p50 and p99 per request. Writes use user ids from 2,000,000,000 up (random per run), which
stay in the deployment: run it on a scratch index prefix (MOVIEREC_INDEX_PREFIX).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time

import httpx
from elasticsearch import Elasticsearch

from movierec.config import get_settings

TITLES = ["toy story", "matrix", "fargo", "alien", "heat", "jumanji", "casino", "se7en", "braveheart", "clueless"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_server(port: int, workers: int, live: bool) -> subprocess.Popen:
    env = {**os.environ, "MOVIEREC_LIVE_UPDATES": "true" if live else "false", "MOVIEREC_API_KEY": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--workers", str(workers), "--log-level", "warning", "--no-access-log"], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the API did not start")


class Ids:
    def __init__(self) -> None:
        self.next = 2_000_000_000 + random.randrange(100_000_000)

    def user(self) -> int:
        self.next += 1
        return self.next


async def cell(base: str, concurrency: int, seconds: float, make) -> dict:
    """`make(client)` sends one request and returns how many ratings (or reads) it carried."""
    latencies, count, errors = [], 0, 0
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal count, errors
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                carried = await make(client)  # not `count += await ...`: that reads count before the await
                count += carried
            except AssertionError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=concurrency)) as c:
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


def run_mode(args, live: bool, movies: list[int], ids: Ids) -> list[tuple]:
    base = f"http://127.0.0.1:{args.port}"
    proc = start_server(args.port, args.workers, live)
    rows = []
    try:

        async def single(client):
            r = await client.post(
                f"/users/{ids.user()}/ratings", json={"movie_id": random.choice(movies), "rating": 4.0}
            )
            assert r.status_code == 200, r.text
            return 1

        def batch(size):
            async def send(client):
                users = [ids.user() for _ in range(max(1, size // 10))]  # ten ratings per user
                events = [
                    {"event_id": f"b{u}-{i}", "user_id": u, "movie_id": random.choice(movies), "rating": 4.5}
                    for u in users
                    for i in range(size // len(users))
                ]
                r = await client.post("/ratings:bulk", json=events)
                assert r.status_code == 200, r.text
                return len(events)

            return send

        async def read(client):
            r = await client.get("/recommendations", params={"title": random.choice(TITLES), "k": 10})
            assert r.status_code == 200, r.text
            return 1

        cells = [("single", c, single) for c in (1, 8)] + [
            (f"batch {n}", c, batch(n)) for n in (100, 1000) for c in (1, 8)
        ]
        for name, concurrency, make in cells:
            rows.append(
                (
                    ("live" if live else "fold-in only"),
                    name,
                    concurrency,
                    asyncio.run(cell(base, concurrency, args.seconds, make)),
                )
            )
        rows.append(
            (
                ("live" if live else "fold-in only"),
                "title -> recs (read)",
                8,
                asyncio.run(cell(base, 8, args.seconds, read)),
            )
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per cell")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8404)
    args = parser.parse_args()
    settings = get_settings()
    es = Elasticsearch(settings.es_url, request_timeout=60)
    hits = es.search(
        index=f"{settings.index_prefix}movies",
        size=500,
        query={"exists": {"field": "item_vector"}},
        sort=[{"num_ratings": "desc"}],
        source=["movie_id"],
    )["hits"]["hits"]
    movies = [h["_source"]["movie_id"] for h in hits]
    ids = Ids()
    rows = run_mode(args, True, movies, ids) + run_mode(args, False, movies, ids)
    print(f"{'mode':<13} {'cell':<22} {'conc':>4} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for mode, name, concurrency, r in rows:
        print(
            f"{mode:<13} {name:<22} {concurrency:>4} {r['per_s']:>9.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
            f" {r['errors']:>6}"
        )
    for mode in ("live", "fold-in only"):
        single8 = next(r for m, n, c, r in rows if m == mode and n == "single" and c == 8)["per_s"]
        reads = next(r for m, n, c, r in rows if m == mode and n.startswith("title"))["per_s"]
        print(f"{mode}: single writes / title reads, both at concurrency 8: {single8 / reads:.2f} (goal >= 0.5)")
    print(f"median per-request p50 over cells: {statistics.median(r['p50_ms'] for *_, r in rows):.1f} ms")


if __name__ == "__main__":
    main()
