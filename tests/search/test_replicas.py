"""Replicas from MOVIEREC_REPLICAS on every index movierec creates, and no alias switch before every copy is placed."""

import pytest
from elasticsearch import helpers

from movierec.config import Settings
from movierec.resources import mappings_dir
from movierec.search import indices

KINDS = sorted(p.stem for p in mappings_dir().glob("*.json"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_mapping_follows_the_cluster_by_default(kind):
    settings = indices.load_mapping(kind)["settings"]
    assert settings["auto_expand_replicas"] == "0-1" and "number_of_replicas" not in settings


def test_a_fixed_count_replaces_the_automatic_one():
    settings = indices.load_mapping("movies", dims=4, replicas="2")["settings"]
    assert settings["number_of_replicas"] == 2 and settings["auto_expand_replicas"] == "false"
    assert indices.replica_settings(" AUTO ") == {"auto_expand_replicas": "0-1"}
    with pytest.raises(ValueError, match="MOVIEREC_REPLICAS='many'"):
        indices.replica_settings("many")


def test_the_setting_is_checked_when_read(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("MOVIEREC_REPLICAS", "1")
    assert Settings().replicas == "1"
    monkeypatch.setenv("MOVIEREC_REPLICAS", "two")
    with pytest.raises(ValidationError, match="MOVIEREC_REPLICAS"):
        Settings()


@pytest.mark.parametrize(
    ("status", "data_nodes", "ok"),
    [("green", 3, True), ("green", 1, True), ("yellow", 1, True), ("yellow", 3, False), ("red", 1, False)],
)
def test_only_green_switches_except_yellow_on_one_data_node(status, data_nodes, ok):
    health = {"status": status, "number_of_data_nodes": data_nodes, "unassigned_shards": 1}
    verdict = indices.health_verdict(health)
    assert (verdict is None) is ok
    if not ok:
        assert f"status {status} on {data_nodes} data node(s)" in verdict


@pytest.mark.es
@pytest.mark.parametrize("replicas", ["auto", "1"])
def test_on_one_node_auto_gives_no_replica_and_one_replica_still_publishes_yellow(es, prefix, replicas):
    names = indices.IndexNames(prefix, replicas)
    indices.create_version(es, names, "v1", dims=2)
    indices.ensure_shared_indices(es, names)
    helpers.bulk(es, [{"_index": names.concrete("movies", "v1"), "_id": "1", "movie_id": 1}])
    created = es.indices.get_settings(index=f"{prefix}*")
    want = "0" if replicas == "auto" else "1"
    assert {name: s["settings"]["index"]["number_of_replicas"] for name, s in created.items()} == dict.fromkeys(
        created, want
    )
    assert len(created) == len(indices.VERSIONED_KINDS) + len(indices.SHARED_KINDS)
    indices.publish(es, names, "v1", {"movies": 1, "users": 0, "ratings": 0})
    assert indices.serving_version(es, names) == "v1"
