"""Request counts and latency histograms in the Prometheus text format (per process)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.buckets[(method, route)][bisect_left(BUCKETS, seconds)] += 1
        self.sums[(method, route)] += seconds

    def render(self) -> str:
        lines = [
            "# HELP movierec_http_requests_total HTTP requests by method, route and status.",
            "# TYPE movierec_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            lines.append(f'movierec_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {count}')
        lines += [
            "# HELP movierec_http_request_duration_seconds Request latency by method and route.",
            "# TYPE movierec_http_request_duration_seconds histogram",
        ]
        for (method, route), counts in sorted(self.buckets.items()):
            labels = f'method="{method}",route="{route}"'
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'movierec_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f"movierec_http_request_duration_seconds_sum{{{labels}}} {self.sums[(method, route)]:.6f}")
            lines.append(f"movierec_http_request_duration_seconds_count{{{labels}}} {cumulative}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware, which costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The route template, not the raw path, so ids do not explode the label set.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


def install(app: FastAPI) -> None:
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        """Request counts and latency histograms (Prometheus text format, this worker process)."""
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")
