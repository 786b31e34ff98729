"""Builds dashboards/movierec.ndjson (Kibana 9 saved objects): `python dashboards/build.py`.

Kibana stores visualisation state as JSON strings inside JSON; building them here keeps that
nesting correct. The committed NDJSON is what `movierec dashboards import` sends; a test checks
that it is current and that every field it names exists in mappings/.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("movierec.ndjson")
INDEX_PATTERNS = {
    "movierec-ip-movies": ("movierec-movies", None),
    "movierec-ip-users": ("movierec-users", "last_rating_at"),
    "movierec-ip-ratings": ("movierec-ratings", "date"),
}
# Kibana 9.x (with Elasticsearch 9.5; Kibana's major must be the cluster's) carries, on its own saved
# objects, coreMigrationVersion 8.8.0 (core migrations were frozen there when types moved to model
# versions) and a typeMigrationVersion per type: the format an object is written in. Kibana runs every
# migration newer than that on import. These objects are written in the formats Kibana 9's own sample
# data uses (src/platform/plugins/shared/home/server/services/sample_data/data_sets/*/saved_objects.ts):
# index-pattern 7.11.0, visualization (agg-based and vega) 8.0.0, dashboard 8.7.0 with panelsJSON.
# Importable into Kibana 8.8 or newer (typeMigrationVersion is from 8.8); used with Kibana 9.x.
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = {"index-pattern": "7.11.0", "visualization": "8.0.0", "dashboard": "8.7.0"}
PANEL_VERSION = TYPE_MIGRATION_VERSION["dashboard"]
MIN_KIBANA = "9.0.0"


def versions(obj_type: str) -> dict:
    return {"coreMigrationVersion": CORE_MIGRATION_VERSION, "typeMigrationVersion": TYPE_MIGRATION_VERSION[obj_type]}


def index_pattern(obj_id: str, title: str, time_field: str | None) -> dict:
    attrs = {"title": title, "name": title}
    if time_field:
        attrs["timeFieldName"] = time_field
    return {
        "type": "index-pattern",
        "id": obj_id,
        "attributes": attrs,
        "references": [],
        **versions("index-pattern"),
    }


def agg(agg_id: str, agg_type: str, schema: str, **params) -> dict:
    return {"id": agg_id, "enabled": True, "type": agg_type, "schema": schema, "params": params}


def visualization(obj_id: str, title: str, vis_type: str, pattern_id: str, aggs: list[dict], params: dict) -> dict:
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    search_source = {
        "query": {"query": "", "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "type": "visualization",
        "id": obj_id,
        "attributes": {
            "title": title,
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": json.dumps(vis_state),
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search_source)},
        },
        "references": [
            {"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": pattern_id}
        ],
        **versions("visualization"),
    }


def vega_embedding_map() -> dict:
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Movie embeddings (PCA of ALS item factors)",
        "data": {
            "url": {
                "index": "movierec-movies",
                "body": {
                    "size": 5000,
                    "query": {"range": {"num_ratings": {"gte": 5}}},
                    "_source": ["title", "embedding_x", "embedding_y", "genres", "num_ratings", "avg_rating"],
                },
            },
            "format": {"property": "hits.hits"},
        },
        "mark": {"type": "circle", "opacity": 0.6},
        "encoding": {
            "x": {"field": "_source.embedding_x", "type": "quantitative", "title": "component 1"},
            "y": {"field": "_source.embedding_y", "type": "quantitative", "title": "component 2"},
            "size": {"field": "_source.num_ratings", "type": "quantitative", "title": "ratings"},
            "color": {"field": "_source.avg_rating", "type": "quantitative", "title": "mean rating"},
            "tooltip": [
                {"field": "_source.title", "type": "nominal"},
                {"field": "_source.num_ratings", "type": "quantitative"},
            ],
        },
    }
    vis_state = {
        "title": "Movie embedding map",
        "type": "vega",
        "params": {"spec": json.dumps(spec, indent=2)},
        "aggs": [],
    }
    return {
        "type": "visualization",
        "id": "movierec-vis-embedding-map",
        "attributes": {
            "title": "Movie embedding map",
            "description": "2-D PCA projection of the item vectors; size = number of ratings, colour = mean rating",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": json.dumps(vis_state),
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": [],
        **versions("visualization"),
    }


def bar(field_params: dict) -> dict:
    return {"type": "histogram", "addLegend": False, "addTooltip": True, **field_params}


def visualizations() -> list[dict]:
    count = agg("1", "count", "metric")
    return [
        visualization(
            "movierec-vis-rating-distribution",
            "Rating distribution",
            "histogram",
            "movierec-ip-ratings",
            [count, agg("2", "histogram", "segment", field="rating", interval=0.5, min_doc_count=False)],
            bar({}),
        ),
        visualization(
            "movierec-vis-ratings-over-time",
            "Ratings over time",
            "line",
            "movierec-ip-ratings",
            [count, agg("2", "date_histogram", "segment", field="date", interval="auto", min_doc_count=1)],
            {"type": "line"},
        ),
        visualization(
            "movierec-vis-avg-rating-by-genre",
            "Average rating by genre",
            "histogram",
            "movierec-ip-ratings",
            [
                agg("1", "avg", "metric", field="rating"),
                agg("2", "terms", "segment", field="genres", size=20, order="desc", orderBy="1"),
            ],
            bar({}),
        ),
        visualization(
            "movierec-vis-top-movies",
            "Best movies (damped average, 50+ ratings)",
            "table",
            "movierec-ip-movies",
            [
                agg("1", "max", "metric", field="damped_rating"),
                agg("3", "max", "metric", field="num_ratings"),
                agg("2", "terms", "bucket", field="title.raw", size=25, order="desc", orderBy="1"),
            ],
            {"perPage": 25, "showTotal": False},
        ),
        visualization(
            "movierec-vis-movie-avg-rating",
            "Movies by mean rating",
            "histogram",
            "movierec-ip-movies",
            [count, agg("2", "histogram", "segment", field="avg_rating", interval=0.25, min_doc_count=False)],
            bar({}),
        ),
        visualization(
            "movierec-vis-activity-levels",
            "Users by activity level",
            "pie",
            "movierec-ip-users",
            [count, agg("2", "terms", "segment", field="activity_level", size=5, order="desc", orderBy="1")],
            {"type": "pie", "isDonut": True, "addLegend": True},
        ),
        visualization(
            "movierec-vis-ratings-per-user",
            "Ratings per user",
            "histogram",
            "movierec-ip-users",
            [count, agg("2", "histogram", "segment", field="num_ratings", interval=50, min_doc_count=False)],
            bar({}),
        ),
        visualization(
            "movierec-vis-active-users",
            "Most active users",
            "table",
            "movierec-ip-users",
            [
                agg("1", "max", "metric", field="num_ratings"),
                agg("3", "max", "metric", field="avg_rating"),
                agg("2", "terms", "bucket", field="user_id", size=20, order="desc", orderBy="1"),
            ],
            {"perPage": 20, "showTotal": False},
        ),
        vega_embedding_map(),
    ]


def dashboard(vis: list[dict]) -> dict:
    panels, refs = [], []
    for i, obj in enumerate(vis):
        panels.append(
            {
                "version": PANEL_VERSION,
                "type": "visualization",
                "panelIndex": str(i + 1),
                "panelRefName": f"panel_{i}",
                "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(i + 1)},
                "embeddableConfig": {},
            }
        )
        refs.append({"name": f"panel_{i}", "type": "visualization", "id": obj["id"]})
    return {
        "type": "dashboard",
        "id": "movierec-dashboard",
        "attributes": {
            "title": "movierec: ratings, users and embeddings",
            "description": "Average ratings, user activity and the ALS embedding map",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
            # MovieLens ratings span decades: Kibana's default "last 15 minutes" would show nothing.
            "timeRestore": True,
            "timeFrom": "now-40y",
            "timeTo": "now",
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": refs,
        **versions("dashboard"),
    }


def build() -> str:
    objects = [index_pattern(obj_id, title, tf) for obj_id, (title, tf) in INDEX_PATTERNS.items()]
    vis = visualizations()
    objects += vis + [dashboard(vis)]
    return "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in objects)


if __name__ == "__main__":
    OUT.write_text(build())
    print(f"wrote {OUT}")
