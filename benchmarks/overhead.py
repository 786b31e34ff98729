"""What the API itself costs per request, without Elasticsearch's time and without HTTP.

    movierec es up && movierec pipeline run     # once
    .venv/bin/python benchmarks/overhead.py [--requests 3000] [--profile]

Each endpoint is first called once against the real node while every Elasticsearch answer is
recorded; then the same requests go straight into the ASGI app (no socket, no server) with those
answers replayed from memory. What remains is FastAPI, validation, the route and `search/` code,
and serialisation: the part of the wrapper that Python code can change. The rest of the difference
between the API and the bare ES round trip (`benchmarks/serve.py`) is the HTTP hop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import time
from urllib.parse import urlencode

from elasticsearch import ApiError

from movierec.service.main import create_app

ENDPOINTS = [
    ("title search", "/movies/search", {"q": "toy story"}),
    ("autocomplete", "/movies/suggest", {"prefix": "toy st"}),
    ("title -> recommendations", "/recommendations", {"title": "toy story", "k": 10}),
    ("user recommendations", "/users/1/recommendations", {"k": 10}),
    ("movie by id", "/movies/1", {}),
]


class Replay:
    """Stands in for the ES client: records real answers, then replays them by request."""

    def __init__(self, es, answers: dict | None = None, options: str = "") -> None:
        self.es = es
        self.answers: dict[str, object] = {} if answers is None else answers
        self.options_key = options

    @property
    def recording(self) -> bool:
        return self.answers.get("__recording__", True)

    @recording.setter
    def recording(self, value: bool) -> None:
        self.answers["__recording__"] = value

    def options(self, **options):
        return Replay(self.es.options(**options), self.answers, json.dumps(options, sort_keys=True))

    async def _call(self, method: str, **kwargs):
        key = self.options_key + method + json.dumps(kwargs, sort_keys=True, default=str)
        if self.recording:
            try:
                self.answers[key] = await getattr(self.es, method)(**kwargs)
            except ApiError as exc:  # an error status is an answer too
                self.answers[key] = exc
        answer = self.answers[key]
        if isinstance(answer, ApiError):
            raise answer
        return answer

    async def search(self, **kwargs):
        return await self._call("search", **kwargs)

    async def get(self, **kwargs):
        return await self._call("get", **kwargs)


async def call(app, path: str, params: dict) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params).encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(requests: int, profile: bool) -> list[tuple]:
    app = create_app()
    async with app.router.lifespan_context(app):
        replay = Replay(app.state.es)
        app.state.es = replay
        try:
            rows = await _measure(app, replay, requests, profile)
        finally:
            app.state.es = replay.es
    return rows


async def _measure(app, replay: Replay, requests: int, profile: bool) -> list[tuple]:
    rows = []
    for _, path, params in ENDPOINTS:
        status = await call(app, path, params)
        if status != 200:
            raise SystemExit(f"{path} answered {status} while recording (is the data indexed?)")
    replay.recording = False
    for label, path, params in ENDPOINTS:
        for _ in range(min(300, requests)):  # warm-up
            await call(app, path, params)
        micros = []
        for _ in range(requests):
            started = time.perf_counter()
            await call(app, path, params)
            micros.append((time.perf_counter() - started) * 1e6)
        rows.append((label, path, statistics.median(micros), statistics.mean(micros)))
    if profile:
        _, path, params = ENDPOINTS[2]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await call(app, path, params)
        profiler.disable()
        print(f"cProfile of {path}, by cumulative time:")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of title -> recommendations")
    args = parser.parse_args()
    try:
        import uvloop  # what uvicorn runs the app on

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    rows = runner(run(args.requests, args.profile))
    print(f"{'endpoint':<26} {'path':<26} {'p50 us':>8} {'mean us':>8}")
    for label, path, p50, mean in rows:
        print(f"{label:<26} {path:<26} {p50:>8.0f} {mean:>8.0f}")
    print(f"({args.requests} requests each, ES answers replayed from memory, ASGI called directly)")


if __name__ == "__main__":
    main()
