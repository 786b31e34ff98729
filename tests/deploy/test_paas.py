"""The PaaS route: Procfile, Heroku's app.json and heroku.yml; the API started exactly as the Procfile says."""

import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import delete_prefix
from tests.deploy.helpers import REPO, VENV_BIN, load_yaml, procfile

APP_JSON = json.loads((REPO / "app.json").read_text())


def test_procfile_declares_web_on_port_and_the_pipeline():
    entries = procfile()
    web = shlex.split(entries["web"])
    assert web[:2] == ["uvicorn", "movierec.service.main:app"]
    assert web[web.index("--port") + 1] in {"$PORT", "${PORT:-8000}"}
    assert web[web.index("--host") + 1] == "0.0.0.0"
    assert entries["pipeline"] == "movierec pipeline run"


def test_app_json_points_at_a_managed_elasticsearch():
    env = APP_JSON["env"]
    for name in ("ES_CLOUD_ID", "ES_API_KEY"):
        assert env[name]["required"] is True, name
    assert "ES_URL" not in env, "Elastic Cloud is reached through ES_CLOUD_ID"
    assert env["MOVIEREC_API_KEY"]["generator"] == "secret"
    assert APP_JSON["scripts"]["postdeploy"] == procfile()["pipeline"]
    assert APP_JSON["stack"] == "container"


def test_heroku_yml_builds_the_dockerfile_and_runs_its_cmd():
    manifest = load_yaml(REPO / "heroku.yml")
    assert manifest["build"]["docker"]["web"] == "Dockerfile"
    assert "run" not in manifest, "the web dyno runs the image's CMD, which is the Procfile's web line"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served_index(es):
    """An empty but complete index version under a fresh prefix, so /health can answer 200."""
    from movierec.search import indices

    names = indices.IndexNames(f"test-procfile-{uuid.uuid4().hex[:8]}-")
    version = indices.new_version()
    indices.create_version(es, names, version, dims=8)
    indices.publish(es, names, version, {})
    yield names.prefix
    delete_prefix(es, names.prefix)


@pytest.mark.es
def test_web_process_started_as_the_procfile_says_answers_health(es_url, served_index, tmp_path):
    """/health is 503 without Elasticsearch, so a real node (the session's) and an indexed version."""
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "ES_URL": es_url,
        "MOVIEREC_INDEX_PREFIX": served_index,
        "WEB_CONCURRENCY": "1",
    }
    log = (tmp_path / "web.log").open("w")
    # A Procfile platform runs the line with a shell, which expands $PORT.
    proc = subprocess.Popen(
        ["bash", "-c", procfile()["web"]],
        cwd=tmp_path,  # a container's working directory, not the source tree
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = get(f"http://127.0.0.1:{port}/health")
            except OSError:  # not listening yet
                time.sleep(0.3)
                continue
            if status == 200:
                break
            time.sleep(0.3)
        assert proc.poll() is None, (tmp_path / "web.log").read_text()
        assert status == 200, body
        assert json.loads(body)["status"] == "ok"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
