"""Property-based fuzzing of the running API from its own OpenAPI schema: no input may cause a 5xx."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from movierec.config import PROJECT_ROOT

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def api_url(indexed):
    port = free_port()
    env = {**os.environ, "ES_URL": indexed.es_url, "MOVIEREC_INDEX_PREFIX": indexed.index_prefix, "MOVIEREC_API_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def api_schema(api_url):
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_server_error(case, api_url):
    response = case.call(base_url=api_url)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: {response.text[:300]}"
