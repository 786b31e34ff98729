"""Unversioned indices from before schema 2 (epoch seconds, a concrete index under the alias's name)."""

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from movierec.cli import app as cli
from movierec.search import carryover, indices, migrate

CONSENTED_AT, DELETED_AT, ERASED_AT = 1_700_000_000, 1_700_000_100, 1_700_000_200  # epoch seconds (schema 1)

# The mappings as they shipped before schema 2: no _meta.schema_version, times in epoch seconds.
SCHEMA_1 = {
    "consents": {
        "user_id": {"type": "integer"},
        "personalisation": {"type": "boolean"},
        "updated_at": {"type": "date", "format": "epoch_second||strict_date_optional_time"},
    },
    "deletions": {
        "kind": {"type": "keyword"},
        "user_id": {"type": "integer"},
        "movie_id": {"type": "integer"},
        "date": {"type": "date", "format": "epoch_second||strict_date_optional_time"},
    },
    "models": {"model_version": {"type": "keyword"}, "created_at": {"type": "date"}},
}
DOCUMENTS = {
    "consents": {"7": {"user_id": 7, "personalisation": False, "updated_at": CONSENTED_AT}},
    "deletions": {
        "7_5": {"kind": "rating", "user_id": 7, "movie_id": 5, "date": DELETED_AT},
        "user_8": {"kind": "user", "user_id": 8, "date": ERASED_AT},
    },
    "models": {"v1": {"model_version": "v1", "created_at": "2023-11-14T22:13:20+00:00", "params": {"rank": 2}}},
}


def create_schema_1(es, names):
    for kind, properties in SCHEMA_1.items():
        es.indices.create(index=names.alias(kind), mappings={"dynamic": False, "properties": properties})
        for doc_id, doc in DOCUMENTS[kind].items():
            es.index(index=names.alias(kind), id=doc_id, document=doc)
        es.indices.refresh(index=names.alias(kind))


def stored(es, names, kind):
    es.indices.refresh(index=names.alias(kind))
    return {hit["_id"]: hit["_source"] for hit in es.search(index=names.alias(kind), size=100)["hits"]["hits"]}


def assert_schema_2(es, names):
    for kind in SCHEMA_1:  # the kinds that existed before schema 2 (added_movies came later)
        assert list(es.indices.get_alias(name=names.alias(kind))) == [f"{names.alias(kind)}-v2"]
        [mapping] = es.indices.get_mapping(index=names.alias(kind)).values()
        assert mapping["mappings"]["_meta"]["schema_version"] == 2
    assert stored(es, names, "consents")["7"]["updated_at"] == CONSENTED_AT * 1000
    deletions = stored(es, names, "deletions")
    assert (deletions["7_5"]["date"], deletions["user_8"]["date"]) == (DELETED_AT * 1000, ERASED_AT * 1000)
    assert stored(es, names, "models") == DOCUMENTS["models"]  # ISO dates: nothing to convert
    # Elasticsearch reads the numbers as the instants they were: the erasure is after 2023-11-14T22:16:00Z.
    after = {"range": {"date": {"gt": "2023-11-14T22:16:00Z"}}}
    assert [h["_id"] for h in es.search(index=names.deletions, query=after)["hits"]["hits"]] == ["user_8"]


@pytest.mark.es
def test_migrate_copies_into_v2_behind_the_alias_in_milliseconds_and_is_idempotent(es, prefix):
    names = indices.IndexNames(prefix)
    create_schema_1(es, names)

    done = migrate.migrate_shared_indices(es, names)
    assert {(m.kind, m.source, m.target, m.from_version, m.to_version) for m in done} == {
        (kind, names.alias(kind), f"{names.alias(kind)}-v2", 1, 2) for kind in SCHEMA_1
    }
    assert {m.kind: m.documents for m in done} == {"consents": 1, "deletions": 2, "models": 1}
    assert_schema_2(es, names)

    assert migrate.migrate_shared_indices(es, names) == []  # the second run finds nothing to do
    assert_schema_2(es, names)


@pytest.mark.es
def test_the_pipelines_readers_migrate_first_and_compare_in_the_ratings_seconds(es, prefix):
    names = indices.IndexNames(prefix)
    create_schema_1(es, names)
    deletions = sorted(carryover.fetch_deletions(es, names), key=lambda d: d["user_id"])
    assert [(d["user_id"], d["date"]) for d in deletions] == [(7, DELETED_AT), (8, ERASED_AT)]
    assert carryover.fetch_consents(es, names) == [{"user_id": 7, "personalisation": False}]
    assert_schema_2(es, names)


@pytest.mark.es
def test_the_api_migrates_at_start_up_and_serves_the_migrated_documents(es, settings):
    names = indices.IndexNames(settings.index_prefix)
    create_schema_1(es, names)
    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        assert_schema_2(es, names)
        assert client.get("/users/7/consent").json() == {
            "user_id": 7,
            "personalisation": False,
            "recorded": True,
            "updated_at": CONSENTED_AT * 1000,
        }


@pytest.mark.es
def test_cli_index_migrate_reports_what_it_did_and_runs_twice(es, settings):
    names = indices.IndexNames(settings.index_prefix)
    create_schema_1(es, names)
    first = CliRunner().invoke(cli, ["index", "migrate"])
    assert first.exit_code == 0, first.output
    assert f"{names.deletions}: 2 documents from {names.deletions} (schema 1) into {names.deletions}-v2" in first.output
    second = CliRunner().invoke(cli, ["index", "migrate"])
    assert second.exit_code == 0 and "nothing to migrate" in second.output
    assert_schema_2(es, names)


@pytest.mark.es
def test_a_fresh_deployment_gets_aliases_over_v2_and_nothing_to_migrate(es, prefix):
    names = indices.IndexNames(prefix)
    indices.ensure_shared_indices(es, names)
    for kind in SCHEMA_1:  # the kinds that existed before schema 2 (added_movies came later)
        assert list(es.indices.get_alias(name=names.alias(kind))) == [f"{names.alias(kind)}-v2"]
    assert migrate.migrate_shared_indices(es, names) == []


@pytest.mark.parametrize(
    "kind, doc, expected",
    [
        ("consents", {"user_id": 1, "updated_at": 1_700_000_000}, {"user_id": 1, "updated_at": 1_700_000_000_000}),
        ("deletions", {"kind": "user", "date": 1_700_000_000.5}, {"kind": "user", "date": 1_700_000_000_500}),
        ("deletions", {"kind": "user", "date": 1_700_000_000_000}, {"kind": "user", "date": 1_700_000_000_000}),
        (
            "deletions",
            {"kind": "user", "date": "2023-11-14T22:13:20Z"},
            {"kind": "user", "date": "2023-11-14T22:13:20Z"},
        ),
        ("models", {"created_at": "2023-11-14T22:13:20Z"}, {"created_at": "2023-11-14T22:13:20Z"}),
    ],
)
def test_schema_1_documents_get_milliseconds_once(kind, doc, expected):
    assert migrate.upgrade_document(kind, doc, 1) == expected
    assert migrate.upgrade_document(kind, expected, 2) == expected


@pytest.mark.es
def test_a_users_version_written_before_rated_movie_ids_gets_the_field_so_fold_ins_can_write_it(es, prefix):
    names = indices.IndexNames(prefix)
    old = indices.load_mapping("users", dims=2)
    del old["mappings"]["properties"]["rated_movie_ids"]
    es.indices.create(index=names.concrete("users", "v1"), **old)
    assert migrate.add_missing_fields(es, names) == [names.concrete("users", "v1")]
    assert migrate.add_missing_fields(es, names) == []  # once is enough
    es.index(index=names.concrete("users", "v1"), id="7", document={"user_id": 7, "rated_movie_ids": [1, 2]})
    props = es.indices.get_mapping(index=names.concrete("users", "v1"))[names.concrete("users", "v1")]["mappings"]
    assert props["properties"]["rated_movie_ids"]["type"] == "integer"
