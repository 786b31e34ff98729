"""Dashboards checked as far as possible without Kibana: structure, references, fields, the import call,
and every Vega spec rendered by a real Vega implementation (vl-convert) against data from the test node."""

import copy
import http.server
import json
import re
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


def vega_specs(objs):
    for obj in objs:
        if obj["type"] == "visualization":
            vis = json.loads(obj["attributes"]["visState"])
            if vis["type"] == "vega":
                yield obj["id"], json.loads(vis["params"]["spec"])


def test_embedding_map_reads_fields_the_indices_have():
    (_, spec), *_ = vega_specs(objects())
    queried = [d for d in spec["data"] if "url" in d]
    assert {d["url"]["index"] for d in queried} == {"movierec-ratings", "movierec-movies"}
    for data in queried:
        types = field_types(data["url"]["index"])
        body = data["url"]["body"]
        for field in body.get("_source", []):
            assert field in types
        for agg in body.get("aggs", {}).values():
            assert agg["terms"]["field"] in types
        if "%timefield%" in data["url"]:
            assert types[data["url"]["%timefield%"]] == "date"


def test_embedding_map_follows_the_dashboard_and_says_its_limit():
    from movierec.dashboards.build import MAP_LIMIT

    (_, spec), *_ = vega_specs(objects())
    rated = next(d for d in spec["data"] if d["name"] == "rated")
    # The dashboard's query, filters and time range choose the movies; the body has no query of its own.
    assert rated["url"]["%context%"] is True and rated["url"]["%timefield%"] == "date"
    assert "query" not in rated["url"]["body"]
    assert rated["url"]["body"]["aggs"]["movies"]["terms"]["size"] == MAP_LIMIT
    assert f"{MAP_LIMIT:,}" in spec["title"]["text"]
    tooltip = spec["marks"][0]["encode"]["update"]["tooltip"]["signal"]
    assert "datum.title" in tooltip and "datum.genres" in tooltip
    assert spec["marks"][0]["encode"]["update"]["fill"] == {"scale": "color", "field": "genre"}


def test_best_movies_panel_keeps_movies_with_50_ratings_or_more():
    vis = next(o for o in objects() if o["id"] == "movierec-vis-top-movies")
    assert "50+" in vis["attributes"]["title"]
    source = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["query"] == {"query": "num_ratings >= 50", "language": "kuery"}


def test_average_rating_by_genre_titles_its_axis():
    vis = next(o for o in objects() if o["id"] == "movierec-vis-avg-rating-by-genre")
    state = json.loads(vis["attributes"]["visState"])
    assert state["params"]["valueAxes"][0]["title"]["text"] == "Average rating (stars)"
    assert state["params"]["seriesParams"][0]["data"]["id"] == "1"
    assert state["aggs"][0]["params"]["customLabel"] == "Average rating (stars)"


def test_objects_are_built_for_the_configured_prefix():
    from movierec.dashboards.build import build

    objs = [json.loads(line) for line in build("acme-").splitlines()]
    patterns = {o["attributes"]["title"] for o in objs if o["type"] == "index-pattern"}
    assert patterns == {"acme-movies", "acme-users", "acme-ratings"}
    (_, spec), *_ = vega_specs(objs)
    assert {d["url"]["index"] for d in spec["data"] if "url" in d} == {"acme-ratings", "acme-movies"}
    assert "movierec-" not in build("acme-").replace("movierec: ratings", "")
    by_id = {o["id"]: o for o in objs}
    for obj in objs:
        for ref in obj["references"]:
            assert ref["id"] in by_id


def test_dashboard_panels_point_at_its_references():
    dash = next(o for o in objects() if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    assert {p["panelRefName"] for p in panels} == {r["name"] for r in dash["references"]}


def es_data(es, url: dict, fmt: dict):
    """What Kibana would hand Vega: the query run with the dashboard's context (everything, last 40 years)."""
    body = copy.deepcopy(url["body"])
    if url.get("%context%"):
        query: dict = {"bool": {"must": [{"match_all": {}}], "filter": []}}
        if url.get("%timefield%"):
            query["bool"]["filter"].append({"range": {url["%timefield%"]: {"gte": "now-40y", "lte": "now"}}})
        body["query"] = query
    data = es.search(index=url["index"], body=body)
    for key in fmt.get("property", "").split("."):
        data = data[key] if key else data
    return data


@pytest.mark.es
def test_every_vega_spec_renders_against_real_data(es, indexed, tmp_path):
    import vl_convert

    from movierec.dashboards.build import build

    objs = [json.loads(line) for line in build(indexed.index_prefix).splitlines()]
    specs = list(vega_specs(objs))
    assert specs
    for obj_id, spec in specs:
        spec = copy.deepcopy(spec)
        for data in spec["data"]:
            if "url" in data:
                values = es_data(es, data.pop("url"), data.get("format", {}))
                assert values, (obj_id, data["name"])
                data["values"] = values
                data.pop("format", None)
        # Kibana sizes the view to the panel (autosize fit); a renderer outside Kibana needs a size.
        spec.update(width=700, height=450, autosize="pad")
        svg = vl_convert.vega_to_svg(spec)
        (tmp_path / f"{obj_id}.svg").write_text(svg)
        group = re.search(r'class="mark-symbol role-mark"[^>]*>(.*?)</g>', svg, re.S)
        assert group, obj_id
        points = group.group(1).count("<path")
        rated = es.search(
            index=indexed.index_prefix + "ratings",
            body={"size": 0, "aggs": {"m": {"cardinality": {"field": "movie_id"}}}},
        )["aggregations"]["m"]["value"]
        # Every movie rated in range is drawn (up to the stated limit): the lookup found their coordinates.
        assert points >= min(2000, rated) * 0.98, (obj_id, points, rated)
        assert "component 1" in svg and "main genre" in svg


@pytest.fixture
def fake_kibana():
    """Records what the import command sends; answers as Kibana's import API does."""
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["path"] = self.path
            seen["xsrf"] = self.headers.get("kbn-xsrf")
            seen["auth"] = self.headers.get("Authorization")
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
    assert seen["auth"] is None
    assert b'filename="movierec.ndjson"' in seen["body"] and b'"movierec-dashboard"' in seen["body"]


def test_import_builds_for_the_prefix_and_authenticates(fake_kibana):
    from pydantic import SecretStr

    url, seen = fake_kibana
    import_saved_objects(url, prefix="acme-", api_key=SecretStr("k3y"))
    assert seen["auth"] == "ApiKey k3y"
    assert b'"acme-ratings"' in seen["body"] and b'"acme-dashboard"' in seen["body"]
    import_saved_objects(url, username="elastic", password=SecretStr("pw"))
    assert seen["auth"] == "Basic ZWxhc3RpYzpwdw=="


def test_kibana_settings_come_from_the_environment_and_hide_secrets(monkeypatch):
    from movierec.config import Settings

    monkeypatch.setenv("KIBANA_URL", "http://kibana:5601")
    monkeypatch.setenv("KIBANA_API_KEY", "s3cret-key")
    monkeypatch.setenv("KIBANA_PASSWORD", "s3cret-pw")
    settings = Settings()
    assert settings.kibana_url == "http://kibana:5601"
    assert settings.kibana_api_key.get_secret_value() == "s3cret-key"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_import_cli_never_prints_the_secret(fake_kibana, monkeypatch):
    from typer.testing import CliRunner

    from movierec.cli import app
    from movierec.config import get_settings

    url, seen = fake_kibana
    monkeypatch.setenv("KIBANA_URL", url)
    monkeypatch.setenv("KIBANA_USERNAME", "elastic")
    monkeypatch.setenv("KIBANA_PASSWORD", "s3cret-pw")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["dashboards", "import"])
        unreachable = CliRunner().invoke(app, ["dashboards", "import", "--kibana", "http://127.0.0.1:1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen["auth"].startswith("Basic ") and "s3cret" not in result.output
    assert unreachable.exit_code == 1 and "s3cret" not in unreachable.output


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
