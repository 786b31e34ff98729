"""The same kNN request against two Elasticsearch nodes, taking turns: the server's cost, not the client's.

    .venv/bin/python benchmarks/knn_versions.py --a http://127.0.0.1:9282 --b http://127.0.0.1:9252 [--seconds 20]

Raw HTTP (aiohttp, plain JSON), so one process can talk to an 8.x and a 9.x node alike, and the two
servers see the same moment of the machine: benchmarks run one after the other on a shared machine
differ by more than the servers do. Both nodes need the same movies index (`--index`); the query vectors
are the item vectors of the first node's 200 most rated movies. Rows: the service's kNN body with the
vector sent (k=10, the movie fields as `_source`), and on nodes that have it (9.x) the same kNN with the
vector looked up from the movie's document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from movierec.search import queries


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def post(session: aiohttp.ClientSession, url: str, body: dict) -> float:
    started = time.perf_counter()
    async with session.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}) as resp:
        payload = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}: {payload[:200]!r}")
    return (time.perf_counter() - started) * 1000


def knn(vector: list[float]) -> dict:
    # The service's own body: its `_source` list matters, since an 8.x index would otherwise send the
    # vectors back with every hit (they are in its `_source`) and a 9.x index would not.
    return queries.knn_body(vector, k=10)


def knn_lookup(index: str, movie_id: int) -> dict:
    return queries.knn_body(queries.VectorLookup(index, str(movie_id), "item_vector"), k=10)


async def main_async(a: str, b: str, index: str, seconds: float) -> None:
    async with aiohttp.ClientSession() as session:
        probe = {"size": 200, "_source": ["movie_id", "item_vector"], "sort": [{"num_ratings": "desc"}]}
        async with session.post(f"{a}/{index}/_search", json=probe) as resp:
            hits = (await resp.json())["hits"]["hits"]
        cases = [(h["_source"]["movie_id"], h["_source"]["item_vector"]) for h in hits]
        versions = {}
        for url in (a, b):
            async with session.get(f"{url}/_nodes/_local?filter_path=nodes.*.version") as resp:
                versions[url] = next(iter((await resp.json())["nodes"].values()))["version"]
        cells = [("kNN, vector sent", url, lambda i: knn(cases[i % len(cases)][1])) for url in (a, b)]
        cells += [
            ("kNN, vector looked up", url, lambda i: knn_lookup(index, cases[i % len(cases)][0]))
            for url in (a, b)
            if int(versions[url].split(".")[0]) >= 9
        ]
        for warm in (True, False):  # every cell takes its turn in each round, the order reversed every round
            samples: list[list[float]] = [[] for _ in cells]
            deadline = time.perf_counter() + (1.0 if warm else seconds)
            i = 0
            while time.perf_counter() < deadline:
                order = range(len(cells)) if i % 2 == 0 else reversed(range(len(cells)))
                for j in order:
                    _, url, build = cells[j]
                    samples[j].append(await post(session, f"{url}/{index}/_search", build(i)))
                i += 1
        print(f"{'form':<24} {'node':<8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'n':>6}")
        for (name, url, _), s in zip(cells, samples, strict=True):
            print(
                f"{name:<24} {versions[url]:<8} {statistics.median(s):>8.2f} {pct(s, 95):>8.2f} "
                f"{pct(s, 99):>8.2f} {len(s):>6}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="first node URL")
    parser.add_argument("--b", required=True, help="second node URL")
    parser.add_argument("--index", default="movierec-movies")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.a.rstrip("/"), args.b.rstrip("/"), args.index, args.seconds))


if __name__ == "__main__":
    main()
