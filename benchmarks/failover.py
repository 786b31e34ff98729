"""Fail-over: SIGKILL the node holding the movies primary while the API serves readers and writers.

    .venv/bin/python benchmarks/failover.py [--seconds 40] [--kill-at 10] [--port 9331] [--security]

Starts (or reuses) a 3-node local cluster (`movierec es up --nodes 3`) on ES_URL-style ports from
`--port`, indexes the bundled data through the pipeline (1 replica: MOVIEREC_REPLICAS auto on 3
nodes), starts the API in its own uvicorn process with every node in ES_URL, and then for
`--seconds` runs 2 readers of title -> recommendations and 2 writers of ratings (each rating a new
user and a movie no other request rates) against it. At `--kill-at` seconds the node holding the
movies index's primary gets SIGKILL. Afterwards every acknowledged (200) rating is looked up
through GET /users/{id}/export, the node is started again and the time until the cluster is green
is measured. Prints one JSON report: the 200 ratio, answers by status, acknowledged and lost
ratings, the seconds from the kill to the last non-200 answer, and the time to green.

The CI test (tests/movierec/test_escluster.py) runs the same driver for a shorter time and asserts
what must always hold; this script reports the numbers the README shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

READERS, WRITERS = 2, 2
TITLES = ("toy story", "jumanji", "heat", "casino", "sabrina", "braveheart", "apollo 13", "babe")
# Longer than the API's own worst case (ES_TIMEOUT_S x retries), so a slow answer is measured,
# not cut off; a client-side timeout still counts as a failure (neither 200 nor 503).
CLIENT_TIMEOUT_S = 60.0


@dataclass
class Answer:
    kind: str  # "read" or "write"
    started: float  # seconds since the start of the run
    ended: float
    status: int  # 0: no HTTP answer (connection refused, client timeout)
    detail: str = ""
    user_id: int | None = None
    movie_id: int | None = None


@dataclass
class Outcome:
    answers: list[Answer] = field(default_factory=list)
    killed_at: float | None = None
    killed: str = ""
    lost: list[tuple[int, int]] = field(default_factory=list)
    checked: int = 0
    time_to_green_s: float | None = None

    @property
    def acknowledged(self) -> list[Answer]:
        return [a for a in self.answers if a.kind == "write" and a.status == 200]

    def statuses(self) -> Counter:
        return Counter(a.status for a in self.answers)

    def unexpected(self) -> list[Answer]:
        return [a for a in self.answers if a.status not in (200, 503)]

    def recovery_s(self) -> float:
        """From the kill to the end of the last answer that was not a 200 (0: none failed)."""
        if self.killed_at is None:
            return 0.0
        bad = [a.ended for a in self.answers if a.status != 200 and a.ended >= self.killed_at]
        return max(bad) - self.killed_at if bad else 0.0

    def report(self) -> dict:
        n = len(self.answers)
        ok = self.statuses()[200]
        return {
            "requests": n,
            "ratio_200": round(ok / n, 4) if n else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses().items())},
            "reads": sum(a.kind == "read" for a in self.answers),
            "writes": sum(a.kind == "write" for a in self.answers),
            "acknowledged": len(self.acknowledged),
            "checked": self.checked,
            "lost": len(self.lost),
            "killed": self.killed,
            "killed_at_s": round(self.killed_at, 2) if self.killed_at is not None else None,
            "back_to_all_200_after_s": round(self.recovery_s(), 2),
            "time_to_green_s": round(self.time_to_green_s, 1) if self.time_to_green_s is not None else None,
            "first_unexpected": [vars(a) for a in self.unexpected()[:3]],
        }


def primary_node(es, index: str) -> str:
    """The name of the node that holds the primary of `index`'s (only) shard."""
    rows = es.cat.shards(index=index, format="json", h="index,shard,prirep,state,node")
    primaries = [r["node"] for r in rows if r["prirep"] == "p" and r["state"] == "STARTED"]
    if not primaries:
        raise RuntimeError(f"no started primary for {index}: {rows}")
    return primaries[0]


async def _reader(client: httpx.AsyncClient, t0: float, stop: float, out: list[Answer], seed: int) -> None:
    rnd = random.Random(seed)
    while (now := time.monotonic() - t0) < stop:
        title = rnd.choice(TITLES)
        status, detail = await _call(client, "GET", "/recommendations", params={"title": title, "k": 10})
        out.append(Answer("read", now, time.monotonic() - t0, status, detail))


async def _writer(
    client: httpx.AsyncClient, t0: float, stop: float, out: list[Answer], users, movies: list[int]
) -> None:
    for movie_id in movies:
        if (now := time.monotonic() - t0) >= stop:
            return
        user_id = next(users)
        rating = 0.5 * (1 + (user_id + movie_id) % 10)
        status, detail = await _call(
            client, "POST", f"/users/{user_id}/ratings", json={"movie_id": movie_id, "rating": rating}
        )
        out.append(Answer("write", now, time.monotonic() - t0, status, detail, user_id, movie_id))


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs) -> tuple[int, str]:
    try:
        resp = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    return resp.status_code, "" if resp.status_code == 200 else resp.text[:300]


async def drive(
    api_url: str,
    movies: list[int],
    *,
    seconds: float,
    kill_at: float,
    kill,
    user_base: int,
) -> Outcome:
    """READERS + WRITERS concurrent loops for `seconds`; `kill()` runs at `kill_at` and names its victim."""
    outcome = Outcome()
    users = iter(range(user_base, user_base + 10_000_000))
    halves = [movies[i::WRITERS] for i in range(WRITERS)]  # distinct movies per writer and per request
    limits = httpx.Limits(max_connections=READERS + WRITERS + 2)
    async with httpx.AsyncClient(base_url=api_url, timeout=CLIENT_TIMEOUT_S, limits=limits) as client:
        t0 = time.monotonic()

        async def killer() -> None:
            await asyncio.sleep(kill_at)
            outcome.killed_at = time.monotonic() - t0
            outcome.killed = await asyncio.to_thread(kill)

        tasks = [_reader(client, t0, seconds, outcome.answers, seed) for seed in range(READERS)]
        tasks += [_writer(client, t0, seconds, outcome.answers, users, half) for half in halves]
        await asyncio.gather(killer(), *tasks)
    return outcome


def verify(api_url: str, outcome: Outcome) -> None:
    """Every acknowledged rating must be in the user's export (read through the API, after the run)."""
    with httpx.Client(base_url=api_url, timeout=CLIENT_TIMEOUT_S) as client:
        for answer in outcome.acknowledged:
            resp = client.get(f"/users/{answer.user_id}/export")
            resp.raise_for_status()
            stored = {r["movie_id"] for r in resp.json()["ratings"]}
            outcome.checked += 1
            if answer.movie_id not in stored:
                outcome.lost.append((answer.user_id, answer.movie_id))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api(env: dict[str, str], log_path: Path, *, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """The API in its own uvicorn process; returns it and its base URL once /livez answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning"]
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_api(proc)
    raise RuntimeError(f"the API did not answer /health within 120 s: {log_path.read_text()[-2000:]}")


def stop_api(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def kill_primary(cluster, state, es, index: str):
    """A `kill` for drive(): SIGKILL the node process holding `index`'s primary; returns its name."""

    def kill() -> str:
        name = primary_node(es, index)
        node = next(n for n in cluster.nodes(state) if n.spec.node_name == name)
        os.kill(node.read_pid(), signal.SIGKILL)
        return name

    return kill


def restart_and_time_green(cluster, state, es, *, timeout_s: float = 300.0) -> float:
    """Start the stopped node again; seconds from its start until the cluster is green."""
    started = time.monotonic()
    for node in cluster.nodes(state):
        if not node.read_pid():
            node.start()
    es.options(request_timeout=timeout_s + 10).cluster.health(
        wait_for_status="green", wait_for_nodes=str(state.nodes), timeout=f"{timeout_s:.0f}s"
    )
    return time.monotonic() - started


def env_lines(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines)


def main() -> None:
    from movierec.config import Settings
    from movierec.escluster import LocalCluster
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.pipeline.spark import build_session
    from movierec.search.client import sync_client
    from movierec.search.indices import IndexNames

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--kill-at", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=9331, help="HTTP port of the first node")
    parser.add_argument("--security", action="store_true", help="TLS and file-realm users (es up --security)")
    parser.add_argument("--max-users", type=int, default=None, help="index a slice of the bundled data")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()

    scheme = "https" if args.security else "http"
    cluster = LocalCluster(Settings(ES_URL=f"{scheme}://127.0.0.1:{args.port}"))
    print(cluster.up(3, security=args.security), file=sys.stderr)
    state = cluster.state()
    pipeline_env, api_env = env_lines(cluster.env("pipeline")), env_lines(cluster.env("api"))
    prefix = "movierec-"  # the roles of a secured cluster cover the prefix it was started with
    runs = Path("/tmp/movierec-failover-runs")
    settings = Settings(**pipeline_env, MOVIEREC_INDEX_PREFIX=prefix, MOVIEREC_RUNS_DIR=str(runs))
    es = sync_client(settings.es_connection(request_timeout=60))
    spark = build_session("local[2]", settings.spark_driver_memory, app_name="movierec-failover")
    from movierec import resources

    report = run_pipeline(
        spark,
        PipelineConfig.of(settings),
        RunOptions(data=resources.bundled_dataset(), evaluate=False, max_users=args.max_users, allow_shrink=True),
        es,
        progress=lambda line: print(line, file=sys.stderr),
    )
    spark.stop()
    names = IndexNames(prefix)
    movies = movie_ids(es, names.movies)
    env = {**os.environ, **api_env, "MOVIEREC_INDEX_PREFIX": prefix, "MOVIEREC_API_KEY": ""}
    api, url = start_api(env, runs / "uvicorn.log")
    try:
        outcome = asyncio.run(
            drive(
                url,
                movies,
                seconds=args.seconds,
                kill_at=args.kill_at,
                kill=kill_primary(cluster, state, es, names.movies),
                user_base=random.randrange(1_000_000, 2_000_000_000 - 20_000_000),
            )
        )
        verify(url, outcome)
        outcome.time_to_green_s = restart_and_time_green(cluster, state, es)
    finally:
        stop_api(api)
        if not args.keep:
            print(cluster.down(), file=sys.stderr)
    print(json.dumps({"version": report.version, "seconds": args.seconds, **outcome.report()}, indent=2))


def movie_ids(es, index: str, limit: int = 5000) -> list[int]:
    """Movies with a factor vector (a rating of one can be folded in), shuffled."""
    resp = es.search(index=index, size=limit, query={"exists": {"field": "item_vector"}}, source=["movie_id"])
    ids = [hit["_source"]["movie_id"] for hit in resp["hits"]["hits"]]
    random.shuffle(ids)
    return ids


if __name__ == "__main__":
    main()
