"""A 3-node secured local cluster (`movierec es up --nodes 3 --security`): status, replicas, fail-over, down.

One cluster serves the whole module (starting 3 secured nodes costs about 2 minutes under load), and
the tests run in file order: the last one stops it with `es down`.
"""

import asyncio
import os
import random
import time

import httpx
import pytest
from typer.testing import CliRunner

from benchmarks import failover
from movierec.cli import app
from movierec.config import Settings, get_settings

PORT = 9331  # 9331-9333 HTTP, 9431-9433 transport: ports of their own
URL = f"https://127.0.0.1:{PORT}"
NODES = 3
# What the test asserts about a lost node (measured under load: see the README's fail-over section).
RUN_S, KILL_AT_S = 24.0, 5.0
BACK_TO_200_S = 12.0  # every answer that ends later than this after the kill is a 200
GREEN_WITHIN_S = 240.0  # after the node is started again (a JVM start is ~35 s under load)

CLUSTER = [pytest.mark.cluster, pytest.mark.slow]


def marked(fn):
    for mark in CLUSTER:
        fn = mark(fn)
    return fn


def test_role_letters_in_words():
    from movierec.escluster import node_role

    assert node_role("cdfhilmrstw") == "master-eligible+data"
    assert node_role("m") == "master-eligible" and node_role("") == "coordinating only"
    assert node_role("i") == "i"  # ingest only: the letters as they are


def cli(*args, **env):
    get_settings.cache_clear()  # an earlier test may have cached settings for another ES_URL
    try:
        return CliRunner().invoke(app, list(args), env={"ES_URL": URL, **env})
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def cluster():
    from movierec.escluster import LocalCluster

    cluster = LocalCluster(Settings(ES_URL=URL))
    print(cluster.up(NODES, security=True))
    yield cluster
    cluster.down()  # also when a test failed before `es down` ran


@pytest.fixture(scope="module")
def admin(cluster):
    from elasticsearch import Elasticsearch

    state = cluster.state()
    access = cluster.access(state)
    client = Elasticsearch(
        state.urls, ca_certs=str(access.cafile), basic_auth=(access.username, access.password), request_timeout=60
    )
    yield client
    client.close()


@marked
def test_three_nodes_form_one_cluster_and_status_lists_each(cluster, admin):
    # Right after the nodes join, the replicas of the system indices are still being allocated (yellow).
    health = admin.options(ignore_status=408).cluster.health(
        wait_for_nodes=str(NODES), wait_for_status="green", timeout="180s"
    )
    assert health["number_of_nodes"] == NODES and health["status"] == "green"
    result = cli("es", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "status green" in lines[0] and "security on" in lines[0]
    pids = {node.read_pid() for node in cluster.nodes(cluster.state())}
    assert None not in pids and len(pids) == NODES
    for i, line in enumerate(lines[1:]):
        port = PORT + i
        assert f"movierec-{port}: pid " in line and f"http {port}, transport {port + 100}" in line
        assert "role master-eligible+data, in the cluster" in line
    assert sum("elected master" in line for line in lines) == 1
    env = dict(line.split("=", 1) for line in cli("es", "env").output.strip().splitlines())
    assert env["ES_URL"] == ",".join(f"https://127.0.0.1:{PORT + i}" for i in range(NODES))
    # Asked for another shape while it runs: a clear refusal, nothing restarted.
    again = cli("es", "up", "--nodes", "2")
    assert again.exit_code == 1 and "already runs" in again.output and "Traceback" not in again.output


@marked
def test_killing_the_movies_primary_loses_no_acknowledged_rating(cluster, admin, spark, tmp_path, monkeypatch):
    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.search.client import sync_client
    from movierec.search.indices import IndexNames
    from tests.conftest import BUNDLED

    state = cluster.state()
    pipeline_env = failover.env_lines(cluster.env("pipeline"))
    api_env = failover.env_lines(cluster.env("api"))
    prefix = "movierec-"  # the roles cover the prefix the cluster was started with
    for key, value in {**pipeline_env, "MOVIEREC_INDEX_PREFIX": prefix, "MOVIEREC_RUNS_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    es = sync_client(settings.es_connection(request_timeout=60))
    report = run_pipeline(
        spark,
        PipelineConfig.of(settings),
        RunOptions(data=BUNDLED, evaluate=False, max_users=100, allow_shrink=True),
        es,
        lambda _: None,
    )
    get_settings.cache_clear()
    assert report.published
    names = IndexNames(prefix)
    # MOVIEREC_REPLICAS auto on 3 data nodes: one replica of every index, all placed before the switch.
    index_settings = admin.indices.get_settings(index=f"{prefix}*", name="index.number_of_replicas")
    assert {s["settings"]["index"]["number_of_replicas"] for s in index_settings.values()} == {"1"}
    assert admin.cluster.health(index=f"{prefix}*")["status"] == "green"

    env = {**os.environ, **api_env, "MOVIEREC_INDEX_PREFIX": prefix, "MOVIEREC_API_KEY": ""}
    api, url = failover.start_api(env, tmp_path / "uvicorn.log")
    try:
        outcome = asyncio.run(
            failover.drive(
                url,
                failover.movie_ids(admin, names.movies),
                seconds=RUN_S,
                kill_at=KILL_AT_S,
                kill=failover.kill_primary(cluster, state, admin, names.movies),
                user_base=random.randrange(1_000_000, 1_000_000_000),
            )
        )
        failover.verify(url, outcome)
        summary = outcome.report()
        print(summary)
        assert outcome.killed and outcome.killed_at is not None
        assert not outcome.unexpected(), summary  # only 200 or 503, never a 500 or a hang
        assert outcome.checked == len(outcome.acknowledged) > 0 and not outcome.lost, summary
        late = [a for a in outcome.answers if a.ended > outcome.killed_at + BACK_TO_200_S]
        assert late and all(a.status == 200 for a in late), summary
        assert any(a.kind == "write" for a in late)  # writes go on after the fail-over too

        # Revoked credentials: the API user removed from the file realm (on every node) gives 503s
        # with the sentence from search.client.explain, not a 500.
        for node in cluster.nodes(state):
            if node.read_pid():
                node.tool("elasticsearch-users", "userdel", "movierec-api")
        deadline, resp = time.monotonic() + 60, None
        while time.monotonic() < deadline:  # the file realm re-reads its files every 5 s
            resp = httpx.get(f"{url}/recommendations", params={"title": "toy story"}, timeout=60)
            if resp.status_code != 200:
                break
            time.sleep(1)
        assert resp.status_code == 503 and "refused the credentials (401)" in resp.json()["detail"], resp.text
    finally:
        failover.stop_api(api)

    took = failover.restart_and_time_green(cluster, state, admin, timeout_s=GREEN_WITHIN_S)
    print(f"green {took:.1f}s after the killed node started again")
    assert admin.cluster.health()["number_of_nodes"] == NODES


@marked
def test_es_down_stops_every_node(cluster):
    members = cluster.nodes(cluster.state())
    pids = [node.read_pid() for node in members]
    result = cli("es", "down")
    assert result.exit_code == 0, result.output
    assert result.output.count("stopped: pid") == NODES
    assert not any(node.read_pid() for node in members) and None not in pids
    status = cli("es", "status")
    assert status.exit_code == 3 and "not running" in status.output
