import os
import socket
from pathlib import Path

import pytest

from movierec.config import Settings
from movierec.escompat import server_version_at
from movierec.esnode import EsNodeError, LocalNode, find_jdk, java_major, min_jdk_for, port_of


def fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return home


def test_java_major_reads_the_release_file(tmp_path):
    assert java_major(fake_jdk(tmp_path, "a", "25.0.1")) == 25
    assert java_major(fake_jdk(tmp_path, "b", "1.8.0_392")) == 8


def test_min_jdk_follows_the_server_major():
    assert min_jdk_for("8.19.21") == 17
    assert min_jdk_for("9.1.0") == 21


def test_no_jdk_gives_a_clear_error_naming_what_was_searched(tmp_path):
    fake_jdk(tmp_path, "old-jdk", "11.0.2")
    with pytest.raises(EsNodeError) as err:
        find_jdk("8.19.21", env={}, search_dirs=(tmp_path, tmp_path / "nowhere"))
    message = str(err.value)
    assert "No JDK 17+" in message and "ES_JAVA_HOME" in message
    assert "old-jdk (JDK 11)" in message and "nowhere (missing)" in message


def test_the_pinned_9x_server_asks_for_jdk_21(tmp_path):
    fake_jdk(tmp_path, "jdk17", "17.0.15")
    with pytest.raises(EsNodeError) as err:
        find_jdk("9.5.3", env={}, search_dirs=(tmp_path,))
    assert "No JDK 21+" in str(err.value) and "openjdk-21-jdk-headless" in str(err.value)
    fake_jdk(tmp_path, "jdk25", "25.0.1")
    assert find_jdk(Settings().es_version, env={}, search_dirs=(tmp_path,)).major == 25
    assert Settings().es_version == "9.5.3"


def test_es_java_home_too_old_is_rejected(tmp_path):
    home = fake_jdk(tmp_path, "jdk11", "11.0.2")
    with pytest.raises(EsNodeError, match="is JDK 11; Elasticsearch 8.19.21 needs JDK 17"):
        find_jdk("8.19.21", env={"ES_JAVA_HOME": str(home)})


def test_es_java_home_not_a_jdk(tmp_path):
    with pytest.raises(EsNodeError, match="is not a JDK"):
        find_jdk("8.19.21", env={"ES_JAVA_HOME": str(tmp_path)})


def test_newest_suitable_jdk_wins(tmp_path):
    fake_jdk(tmp_path, "jdk17", "17.0.15")
    fake_jdk(tmp_path, "jdk21", "21.0.4")
    fake_jdk(tmp_path, "jdk11", "11.0.2")
    jdk = find_jdk("8.19.21", env={}, search_dirs=(tmp_path,))
    assert (jdk.home.name, jdk.major) == ("jdk21", 21)


def test_only_local_urls_are_managed():
    assert port_of("http://127.0.0.1:9250") == 9250
    with pytest.raises(EsNodeError, match="not local"):
        port_of("http://search.example.com:9200")


def test_port_taken_by_a_foreign_process_is_a_clear_error(tmp_path):
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        node = LocalNode(Settings(MOVIEREC_ES_HOME=tmp_path), url=f"http://127.0.0.1:{port}")
        with pytest.raises(EsNodeError, match=f"port {port} on 127.0.0.1 is taken by another process"):
            node.up(wait_s=5)
    assert not (tmp_path / f"node-{port}" / "es.pid").exists()


@pytest.mark.es
def test_up_twice_is_fine_and_status_reports_the_node(es_url):
    node = LocalNode(Settings(), url=es_url)
    assert node.up().startswith("already running")
    status = node.status()
    assert status.running and status.pid
    assert status.health["status"] in ("green", "yellow")
    assert "9.5.3" in status.describe() and es_url in status.describe()
    # The server really is the pinned 9.x build, one this client can talk to.
    version = server_version_at(es_url)
    assert version is not None and version.number == "9.5.3" and version.problem() is None


@pytest.mark.es
def test_local_defaults_on_9x_give_new_indices_no_replicas(es, prefix):
    """The catch-all index template (priority 0) still applies on 9.x: one node, so green health."""
    index = f"{prefix}plain"
    es.indices.create(index=index)  # no settings of its own
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["number_of_replicas"] == "0"
    assert es.cluster.health(index=index, wait_for_status="green", timeout="10s")["status"] == "green"


def test_status_of_a_node_that_is_not_running(tmp_path):
    status = LocalNode(Settings(MOVIEREC_ES_HOME=tmp_path), url="http://127.0.0.1:9299").status()
    assert not status.running
    assert "not running" in status.describe()


def test_a_node_folder_moving_to_another_version_gets_that_versions_config(tmp_path):
    """Upgrading the local node (8.19 -> 9.5 on the same port) keeps the data and renews jvm.options etc."""

    def node(version: str) -> LocalNode:
        dist = tmp_path / f"elasticsearch-{version}" / "config"
        dist.mkdir(parents=True, exist_ok=True)
        (dist / "jvm.options").write_text(f"# {version}\n")
        return LocalNode(Settings(MOVIEREC_ES_HOME=tmp_path, MOVIEREC_ES_VERSION=version), url="http://127.0.0.1:9299")

    old = node("8.19.21")
    conf = old._write_config()
    (old.node_dir / "data" / "kept").write_text("indices")
    assert (conf / "jvm.options").read_text() == "# 8.19.21\n"
    assert node("8.19.21")._write_config() == conf and (conf / "jvm.options").read_text() == "# 8.19.21\n"
    conf = node("9.5.3")._write_config()
    assert (conf / "jvm.options").read_text() == "# 9.5.3\n" and "http.port: 9299" in (
        conf / "elasticsearch.yml"
    ).read_text()
    assert (old.node_dir / "data" / "kept").read_text() == "indices"


def test_a_failed_es_up_leaves_no_folder_behind(tmp_path):
    import socket

    from movierec.config import Settings
    from movierec.escluster import LocalCluster
    from movierec.esnode import EsNodeError

    with socket.socket() as taken:  # another process on the node's port: `es up` must fail
        taken.bind(("127.0.0.1", 8403))
        taken.listen()
        cluster = LocalCluster(Settings(MOVIEREC_ES_HOME=tmp_path / "es"), url="http://127.0.0.1:8403")
        with pytest.raises(EsNodeError, match="port 8403 on 127.0.0.1 is taken"):
            cluster.up(1, wait_s=5)
    assert not (tmp_path / "es").exists() or list((tmp_path / "es").iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the node as another user")
def test_check_names_an_es_home_the_node_user_cannot_reach(tmp_path):
    from movierec.config import Settings
    from movierec.doctor import check_es_home

    closed = tmp_path / "root-only"
    closed.mkdir(mode=0o700)
    lines = []
    assert check_es_home(Settings(MOVIEREC_ES_HOME=closed / "es"), lines.append) == 1
    assert lines[0].startswith("FAIL") and str(closed) in lines[0]
    assert check_es_home(Settings(MOVIEREC_ES_HOME="/var/lib/movierec/es"), lines.append) == 0


@pytest.mark.es
def test_es_status_says_when_security_is_off(es_url):
    from movierec.config import Settings
    from movierec.escluster import LocalCluster

    first = LocalCluster(Settings(), url=es_url).status()[0]
    assert "security OFF" in first and "status" in first
