"""Dashboards checked as far as possible without Kibana: structure, references, fields, import call."""

import http.server
import json
import threading

import pytest

from movierec.kibana import DASHBOARDS, KibanaError, import_saved_objects
from movierec.resources import mappings_dir

MAPPINGS = mappings_dir()
NUMERIC = {"integer", "float", "long", "double"}


def objects():
    return [json.loads(line) for line in DASHBOARDS.read_text().splitlines() if line.strip()]


def field_types(index_title: str) -> dict[str, str]:
    kind = index_title.removeprefix("movierec-")
    props = json.loads((MAPPINGS / f"{kind}.json").read_text())["mappings"]["properties"]
    types = {}
    for name, spec in props.items():
        types[name] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            types[f"{name}.{sub}"] = sub_spec["type"]
    return types


def test_ndjson_is_current_with_its_builder():
    from movierec.dashboards.build import build

    assert DASHBOARDS.read_text() == build()


def test_every_object_is_well_formed_and_ids_are_unique():
    objs = objects()
    assert len({o["id"] for o in objs}) == len(objs)
    for obj in objs:
        assert obj["type"] in {"index-pattern", "visualization", "dashboard"}
        assert obj["attributes"]["title"]


def test_references_resolve_within_the_file():
    by_id = {o["id"]: o for o in objects()}
    for obj in objects():
        for ref in obj["references"]:
            assert ref["id"] in by_id and by_id[ref["id"]]["type"] == ref["type"], (obj["id"], ref)


def test_aggregation_fields_exist_with_suitable_types():
    by_id = {o["id"]: o for o in objects()}
    for obj in (o for o in objects() if o["type"] == "visualization"):
        vis = json.loads(obj["attributes"]["visState"])
        if vis["type"] == "vega":
            continue
        pattern = by_id[obj["references"][0]["id"]]["attributes"]["title"]
        types = field_types(pattern)
        for agg in vis["aggs"]:
            field = agg["params"].get("field")
            if field is None:
                continue
            assert field in types, (obj["id"], field)
            if agg["type"] in {"histogram", "avg", "max"}:
                assert types[field] in NUMERIC, (obj["id"], field, types[field])
            if agg["type"] == "date_histogram":
                assert types[field] == "date"
            if agg["type"] == "terms":
                assert types[field] in {"keyword", *NUMERIC}, (obj["id"], field, types[field])


def test_index_pattern_time_fields_are_dates():
    for obj in (o for o in objects() if o["type"] == "index-pattern"):
        time_field = obj["attributes"].get("timeFieldName")
        if time_field:
            assert field_types(obj["attributes"]["title"])[time_field] == "date"


def test_embedding_map_reads_fields_the_movies_index_has():
    vis = next(o for o in objects() if o["id"] == "movierec-vis-embedding-map")
    spec = json.loads(json.loads(vis["attributes"]["visState"])["params"]["spec"])
    types = field_types(spec["data"]["url"]["index"])
    for field in spec["data"]["url"]["body"]["_source"]:
        assert field in types


def test_dashboard_panels_point_at_its_references():
    dash = next(o for o in objects() if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    assert {p["panelRefName"] for p in panels} == {r["name"] for r in dash["references"]}


@pytest.fixture
def fake_kibana():
    """Records what the import command sends; answers as Kibana's import API does."""
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["path"] = self.path
            seen["xsrf"] = self.headers.get("kbn-xsrf")
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"success": True, "successCount": 13}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", seen
    httpd.shutdown()


def test_import_posts_the_file_to_the_saved_objects_api(fake_kibana):
    url, seen = fake_kibana
    assert import_saved_objects(url) == 13
    assert seen["path"] == "/api/saved_objects/_import?overwrite=true"
    assert seen["xsrf"]
    assert b'filename="movierec.ndjson"' in seen["body"] and b'"movierec-dashboard"' in seen["body"]


def test_import_without_kibana_is_a_clear_error():
    with pytest.raises(KibanaError, match="Kibana is not reachable at http://127.0.0.1:1"):
        import_saved_objects("http://127.0.0.1:1")


def test_objects_carry_the_migration_versions_kibana_9_uses():
    """Kibana 9.x's own saved objects carry coreMigrationVersion 8.8.0 and a typeMigrationVersion per type;
    Kibana migrates anything older on import and rejects a version newer than it knows."""
    from movierec.dashboards.build import CORE_MIGRATION_VERSION, MIN_KIBANA, TYPE_MIGRATION_VERSION

    assert CORE_MIGRATION_VERSION == "8.8.0" and MIN_KIBANA.startswith("9.")
    for obj in objects():
        assert obj["coreMigrationVersion"] == "8.8.0", obj["id"]
        assert obj["typeMigrationVersion"] == TYPE_MIGRATION_VERSION[obj["type"]], obj["id"]
        assert "migrationVersion" not in obj  # the pre-8.8 field
    dashboard = next(o for o in objects() if o["type"] == "dashboard")
    assert {p["version"] for p in json.loads(dashboard["attributes"]["panelsJSON"])} == {"8.7.0"}
