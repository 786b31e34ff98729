import json

import pytest
from typer.testing import CliRunner

from movierec.catalog import CatalogError, load_catalog, render_markdown
from movierec.cli import app
from movierec.resources import mappings_dir
from movierec.search import indices

MAPPINGS = mappings_dir()


def test_every_index_and_field_is_catalogued():
    entries = {e.kind: e for e in load_catalog(MAPPINGS)}
    assert set(entries) == {
        "movies",
        "users",
        "ratings",
        "models",
        "deletions",
        "consents",
        "pseudonyms",
        "added_movies",
    }
    personal = {"users", "ratings", "deletions", "consents", "pseudonyms"}
    assert {k for k, e in entries.items() if e.personal_data} == personal
    user_id = next(f for f in entries["users"].fields if f.name == "user_id")
    assert user_id.data_class == "pseudonymous id"
    markdown = render_markdown(list(entries.values()))
    assert "## `movierec-ratings`" in markdown and "| `user_vector` | derived personal |" in markdown


def _write(tmp_path, properties, fields, data_class="public"):
    meta = {
        "description": "d",
        "source": "s",
        "personal_data": False,
        "retention": "r",
        "fields": {f: {"class": data_class, "description": "x"} for f in fields},
    }
    (tmp_path / "things.json").write_text(json.dumps({"mappings": {"_meta": meta, "properties": properties}}))


def test_an_undocumented_field_names_the_file_and_the_field(tmp_path):
    _write(tmp_path, {"a": {"type": "keyword"}, "b": {"type": "keyword"}}, ["a"])
    with pytest.raises(CatalogError, match=r"things.json: fields without a catalog entry \['b'\]"):
        load_catalog(tmp_path)


def test_an_unknown_class_is_refused(tmp_path):
    _write(tmp_path, {"a": {"type": "keyword"}}, ["a"], data_class="secret-ish")
    with pytest.raises(CatalogError, match="things.json: a has class 'secret-ish'"):
        load_catalog(tmp_path)


def test_cli_prints_the_catalog_and_names_a_broken_mapping(tmp_path):
    result = CliRunner().invoke(app, ["catalog"])
    assert result.exit_code == 0 and "## `movierec-users`" in result.output
    _write(tmp_path, {"a": {"type": "keyword"}}, [])
    result = CliRunner().invoke(app, ["catalog", "--mappings", str(tmp_path)])
    assert result.exit_code != 0 and "things.json" in result.output and "Traceback" not in result.output


@pytest.mark.es
def test_a_running_cluster_serves_the_catalog_with_the_mapping(es, prefix):
    names = indices.IndexNames(prefix)
    created = indices.create_version(es, names, "v1", dims=4)
    meta = es.indices.get_mapping(index=created["ratings"])[created["ratings"]]["mappings"]["_meta"]
    assert meta["personal_data"] is True and meta["fields"]["rating"]["class"] == "personal"


def test_every_vector_source_is_catalogued_and_in_the_api_schema():
    from movierec.search.domain import VectorSource
    from movierec.service.main import create_app

    users = next(e for e in load_catalog(MAPPINGS) if e.kind == "users")
    described = next(f.description for f in users.fields if f.name == "vector_source")
    schema = create_app().openapi()["components"]["schemas"]
    assert all(source.value in described for source in VectorSource)
    assert set(schema["VectorSource"]["enum"]) == {source.value for source in VectorSource}
    assert schema["RatingOut"]["properties"]["vector_source"]["$ref"].endswith("/VectorSource")
