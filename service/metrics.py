"""Prometheus metrics that are right with several uvicorn workers.

`prometheus_client` in multiprocess mode: every worker writes its samples to memory-mapped files in
one folder, and a scrape of any worker aggregates the files of all of them, so every scrape counts
every request. Workers started by one uvicorn supervisor share the folder
`<tmp>/movierec-metrics-<supervisor pid>` (or `PROMETHEUS_MULTIPROC_DIR` when the deployment sets
it); a process that runs the app alone (tests, `--workers 1`) uses an in-process registry.

The folder must be chosen before `prometheus_client` is imported, hence the order in this module.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path


def _multiprocess_dir() -> str | None:
    explicit = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if explicit:
        return explicit
    if multiprocessing.parent_process() is None:
        return None  # one process: nothing to aggregate
    folder = Path(tempfile.gettempdir()) / f"movierec-metrics-{os.getppid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return str(folder)


MULTIPROC_DIR = _multiprocess_dir()

from typing import Any  # noqa: E402

from elasticsearch import ApiError, AsyncElasticsearch  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """One set of metric objects per app (a registry each, so several apps in one test process
    do not collide; in multiprocess mode the samples go to the shared files regardless)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "movierec_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "movierec_http_request_duration_seconds",
            "Request latency by method and route.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "movierec_http_requests_in_flight", "Requests being served.", registry=r, multiprocess_mode="livesum"
        )
        self.es_latency = Histogram(
            "movierec_es_request_duration_seconds",
            "Elasticsearch calls by API (endpoint id) and outcome.",
            ["operation", "outcome"],
            buckets=BUCKETS,
            registry=r,
        )
        self.foldins = Counter(
            "movierec_foldins", "Users refolded after a rating write, by outcome.", ["outcome"], registry=r
        )
        self.write_conflicts = Counter(
            "movierec_write_conflicts", "Optimistic-concurrency conflicts retried on writes.", ["document"], registry=r
        )
        self.live_updates = Counter(
            "movierec_live_updates",
            "Live movie updates by rating writes: statistics, audience sums, audience refreshes from stored ratings.",
            ["kind"],
            registry=r,
        )
        # Multiprocess mode has no Info metric: a gauge labelled with the version, 1 while it serves.
        self.model_version = Gauge(
            "movierec_model_version",
            "The serving model version (value 1).",
            ["version"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._version: str | None = None

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def serving(self, version: str) -> None:
        if version != self._version:
            if self._version is not None:
                self.model_version.labels(self._version).set(0)
            self.model_version.labels(version).set(1)
            self._version = version

    def render(self) -> bytes:
        if MULTIPROC_DIR:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class WriteObserver:
    """The rating write path's counts (search/writes.Observer) as these metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def foldin(self, outcome: str) -> None:
        self.metrics.foldins.labels(outcome).inc()

    def conflict(self, document: str) -> None:
        self.metrics.write_conflicts.labels(document).inc()

    def live_update(self, kind: str) -> None:
        self.metrics.live_updates.labels(kind).inc()


def instrumented_client(metrics: Metrics) -> type[AsyncElasticsearch]:
    """An AsyncElasticsearch whose every API call is timed by operation (the client's endpoint id,
    e.g. `search`, `get`, `index`). `es.options(...)` copies keep the class, so they are timed too."""

    class InstrumentedAsyncElasticsearch(AsyncElasticsearch):
        async def perform_request(self, method: str, path: str, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "error"
            try:
                response = await super().perform_request(method, path, **kwargs)
                outcome = "ok"
                return response
            except ApiError as exc:
                outcome = str(exc.meta.status)
                raise
            finally:
                operation = kwargs.get("endpoint_id") or "other"
                metrics.es_latency.labels(operation, outcome).observe(time.perf_counter() - started)

    return InstrumentedAsyncElasticsearch


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

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            # The route template, not the raw path, so ids do not explode the label set.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


def install(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format, aggregated over every worker process of this server."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return metrics
