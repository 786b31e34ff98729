"""Property-based fuzzing of the running API from its own OpenAPI schema: no input may cause a 5xx."""

import os
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from movierec.search import indices
from movierec.search.indices import IndexNames
from tests.conftest import delete_prefix

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fuzz_prefix(indexed, es):
    """A private copy of the indexed data (index clones): the fuzzer deletes and erases at will."""
    names = IndexNames(indexed.index_prefix)
    prefix = f"test-fuzz-{uuid.uuid4().hex[:6]}-"
    version = indices.serving_version(es, names)
    sources = {names.concrete(kind, version): f"{prefix}{kind}-{version}" for kind in indices.VERSIONED_KINDS}
    models = next(iter(es.indices.get_alias(name=names.models)))  # the index behind the alias
    sources[models] = indices.shared_index(IndexNames(prefix), "models")
    for source, target in sources.items():
        es.indices.put_settings(index=source, settings={"index.blocks.write": True})
        try:
            es.indices.clone(index=source, target=target, settings={"index.blocks.write": False})
        finally:
            es.indices.put_settings(index=source, settings={"index.blocks.write": False})
    es.indices.update_aliases(
        actions=[
            {"add": {"index": f"{prefix}{kind}-{version}", "alias": f"{prefix}{kind}"}}
            for kind in indices.VERSIONED_KINDS
        ]
        + [{"add": {"index": sources[models], "alias": f"{prefix}models"}}]
    )
    es.cluster.health(index=f"{prefix}*", wait_for_status="yellow", timeout="30s")
    yield prefix
    delete_prefix(es, prefix)


@pytest.fixture(scope="module")
def api_url(indexed, fuzz_prefix):
    port = free_port()
    env = {**os.environ, "ES_URL": indexed.es_url, "MOVIEREC_INDEX_PREFIX": fuzz_prefix, "MOVIEREC_API_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "movierec.service.main:app", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # generous: start-up is slow on a loaded 2-core machine
    while True:
        assert proc.poll() is None, "the API process exited during start-up"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not become healthy within 120 s"
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
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: {response.text[:300]}"
    )
