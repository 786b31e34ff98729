"""/metrics with several uvicorn workers: every scrape counts every request of every worker."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

REQUESTS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_count(text: str) -> float:
    pattern = r'^movierec_http_requests_total\{[^}]*route="/health"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, flags=re.M))


@pytest.mark.es
@pytest.mark.slow
def test_every_scrape_counts_the_requests_of_both_workers(indexed):
    port = free_port()
    env = {**os.environ, "ES_URL": indexed.es_url, "MOVIEREC_INDEX_PREFIX": indexed.index_prefix}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], env=env)
    folder = Path(tempfile.gettempdir()) / f"movierec-metrics-{proc.pid}"
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.5)
        before = health_count(httpx.get(f"{base}/metrics").text)
        # A new connection per request, so the kernel spreads them over both workers' accept queues.
        for _ in range(REQUESTS):
            assert httpx.get(f"{base}/health", headers={"Connection": "close"}).status_code == 200
        scrapes = [health_count(httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text) for _ in range(6)]
        assert scrapes == [before + REQUESTS] * 6
        writers = {p.stem.split("_")[-1] for p in folder.glob("counter_*.db")}
        assert len(writers) == 2, f"expected both workers to have counted requests: {writers}"
        text = httpx.get(f"{base}/metrics").text
        assert 'movierec_es_request_duration_seconds_count{operation="cluster.health",outcome="ok"}' in text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
