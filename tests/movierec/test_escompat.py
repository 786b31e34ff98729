"""A server of another major: reported in words by `movierec check` and `/health`, not as a bare 400."""

import http.server
import json
import threading

import pytest

from movierec.doctor import check_server
from movierec.escompat import CLIENT_MAJOR, ServerVersion, parse_nodes_version, server_version_at


def test_the_client_is_the_9x_line():
    assert CLIENT_MAJOR == 9


def test_parse_nodes_version_takes_the_oldest_node():
    body = {"nodes": {"a": {"version": "9.5.3"}, "b": {"version": "8.19.21"}, "c": {"version": "9.0.0"}}}
    assert parse_nodes_version(body) == ServerVersion("8.19.21")
    assert parse_nodes_version({"nodes": {}}) is None


def test_problem_says_what_to_do():
    assert ServerVersion("9.5.3").problem() is None and ServerVersion("9.0.0").compatible
    old = ServerVersion("8.19.21").problem()
    assert "8.19.21" in old and "upgrade the cluster to 9.x first" in old and "then movierec" in old
    assert "upgrade movierec" in ServerVersion("10.0.1").problem()


class Fake8x(http.server.BaseHTTPRequestHandler):
    """Answers like an 8.19 node: its version in plain JSON, a 400 to a 9.x client's compatibility header."""

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        accept = self.headers.get("Accept", "")
        if "compatible-with=9" in accept:
            status, body = 400, {"error": {"type": "media_type_header_exception", "reason": "Invalid media-type value"}}
        elif self.path.startswith("/_nodes/_local"):
            status, body = 200, {"nodes": {"x": {"version": "8.19.21"}}}
        else:
            status, body = 200, {"status": "green"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_8x():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake8x)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_check_warns_with_a_clear_message_against_an_8x_server(fake_8x):
    lines: list[str] = []
    assert server_version_at(fake_8x) == ServerVersion("8.19.21")
    assert check_server(fake_8x, lines.append) is False
    assert lines[0].startswith("WARN") and "Elasticsearch 8.19.21 is too old" in lines[0]


def test_check_is_fine_with_nothing_listening():
    lines: list[str] = []
    assert check_server("http://127.0.0.1:1", lines.append) is True and lines[0].startswith("ok")


def test_health_reports_an_incompatible_server(fake_8x, monkeypatch):
    from fastapi.testclient import TestClient

    from movierec.config import get_settings
    from movierec.service.main import create_app

    monkeypatch.setenv("ES_URL", fake_8x)
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            resp = client.get("/health")
    finally:
        get_settings.cache_clear()
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "incompatible" and body["elasticsearch_version"] == "8.19.21"
    assert "upgrade the cluster to 9.x first" in body["elasticsearch"]
    with TestClient(create_app()) as client:
        resp = client.get("/movies/search", params={"q": "toy story"})
    assert resp.status_code == 503 and "not an Elasticsearch 9.x server" in resp.json()["detail"]


@pytest.mark.es
def test_check_and_health_against_the_real_node(es_url, monkeypatch):
    lines: list[str] = []
    assert check_server(es_url, lines.append) is True and "Elasticsearch 9.5.3" in lines[0]
