"""Builds dashboards/movierec.ndjson (Kibana 9 saved objects): `python dashboards/build.py`.

Kibana stores visualisation state as JSON strings inside JSON; building them here keeps that
nesting correct. The committed NDJSON is the objects for the default prefix (`movierec-`);
`movierec dashboards import` builds them again for the configured `MOVIEREC_INDEX_PREFIX`, so index
patterns, object ids and the Vega queries name that deployment's indices. Tests check that the file
is current, that every field it names exists in mappings/, and render every Vega spec against data
fetched from a real node.
"""

from __future__ import annotations

import json
from pathlib import Path

from movierec.genres import GENRE_PRIORITY, NO_GENRE, vega_main_genre_expr

OUT = Path(__file__).with_name("movierec.ndjson")
DEFAULT_PREFIX = "movierec-"
# kind -> time field of its index pattern
INDEX_PATTERNS = {"movies": None, "users": "last_rating_at", "ratings": "date"}
# The embedding map draws at most this many movies (the most rated in the dashboard's time range and
# filters); its title says so. The movies it can place are the MAP_MOVIES most rated overall.
MAP_LIMIT = 2000
MAP_MOVIES = 10000  # Elasticsearch's default index.max_result_window
BEST_MIN_RATINGS = 50


class Ids:
    """Object ids and index names for one prefix; the default prefix gives the committed ids."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.slug = prefix.rstrip("-_.") or "movierec"

    def index(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def pattern(self, kind: str) -> str:
        return f"{self.slug}-ip-{kind}"

    def vis(self, name: str) -> str:
        return f"{self.slug}-vis-{name}"

    @property
    def dashboard(self) -> str:
        return f"{self.slug}-dashboard"


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


def visualization(
    obj_id: str, title: str, vis_type: str, pattern_id: str, aggs: list[dict], params: dict, *, query: str = ""
) -> dict:
    """An aggregation-based visualisation; `query` (KQL) is saved with it and applies to that panel only."""
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    search_source = {
        "query": {"query": query, "language": "kuery"},
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


def vega_embedding_map(ids: Ids) -> dict:
    """The 2-D projection of the item factors, drawn by Vega from two Elasticsearch queries.

    The dashboard's query, filters (`%context%`) and time range (`%timefield%` over the ratings' date)
    choose the movies: the MAP_LIMIT most rated in that range. Their coordinates, titles and genres are
    looked up in the movies index; colour is the main genre (movierec.genres), size the ratings in
    range, and the tooltip names the movie. The limit is in the title, not hidden.
    """
    fields = ["movie_id", "title", "year", "genres", "num_ratings", "avg_rating", "embedding_x", "embedding_y"]
    movie = "datum.movie._source"
    spec = {
        "$schema": "https://vega.github.io/schema/vega/v5.json",
        "title": {
            "text": f"Movie embeddings: up to the {MAP_LIMIT:,} most rated movies in the selected time range",
            "subtitle": "PCA of the ALS item factors; colour = main genre, size = ratings in range; hover for titles",
        },
        "autosize": {"type": "fit", "contains": "padding"},
        "padding": 5,
        "data": [
            {
                "name": "rated",
                "url": {
                    "index": ids.index("ratings"),
                    "%context%": True,
                    "%timefield%": "date",
                    "body": {"size": 0, "aggs": {"movies": {"terms": {"field": "movie_id", "size": MAP_LIMIT}}}},
                },
                "format": {"property": "aggregations.movies.buckets"},
            },
            {
                "name": "movies",
                "url": {
                    "index": ids.index("movies"),
                    "body": {
                        "size": MAP_MOVIES,
                        "query": {"exists": {"field": "embedding_x"}},
                        "sort": [{"num_ratings": "desc"}],
                        "_source": fields,
                    },
                },
                "format": {"property": "hits.hits"},
            },
            {
                "name": "points",
                "source": "rated",
                "transform": [
                    {"type": "lookup", "from": "movies", "key": "_source.movie_id", "fields": ["key"], "as": ["movie"]},
                    {"type": "filter", "expr": "datum.movie != null"},
                    {"type": "formula", "as": "x", "expr": f"{movie}.embedding_x"},
                    {"type": "formula", "as": "y", "expr": f"{movie}.embedding_y"},
                    {"type": "formula", "as": "title", "expr": f"{movie}.title"},
                    {"type": "formula", "as": "year", "expr": f"{movie}.year"},
                    {"type": "formula", "as": "genres", "expr": f"join({movie}.genres || [], ', ')"},
                    {"type": "formula", "as": "genre", "expr": vega_main_genre_expr(f"({movie}.genres || [])")},
                    {"type": "formula", "as": "mean_rating", "expr": f"{movie}.avg_rating"},
                    {"type": "formula", "as": "in_range", "expr": "datum.doc_count"},
                ],
            },
        ],
        "scales": [
            {"name": "x", "type": "linear", "domain": {"data": "points", "field": "x"}, "range": "width"},
            {"name": "y", "type": "linear", "domain": {"data": "points", "field": "y"}, "range": "height"},
            {
                "name": "color",
                "type": "ordinal",
                "domain": [*GENRE_PRIORITY, NO_GENRE],
                "range": {"scheme": "category20"},
            },
            {"name": "size", "type": "sqrt", "domain": {"data": "points", "field": "in_range"}, "range": [6, 250]},
        ],
        "axes": [
            {"orient": "bottom", "scale": "x", "title": "component 1"},
            {"orient": "left", "scale": "y", "title": "component 2"},
        ],
        "legends": [{"fill": "color", "title": "main genre", "orient": "right", "symbolType": "circle"}],
        "marks": [
            {
                "type": "symbol",
                "from": {"data": "points"},
                "encode": {
                    "update": {
                        "x": {"scale": "x", "field": "x"},
                        "y": {"scale": "y", "field": "y"},
                        "fill": {"scale": "color", "field": "genre"},
                        "size": {"scale": "size", "field": "in_range"},
                        "opacity": {"value": 0.7},
                        "tooltip": {
                            "signal": "{title: datum.title + (datum.year ? ' (' + datum.year + ')' : ''), "
                            "'main genre': datum.genre, genres: datum.genres, 'ratings in range': datum.in_range, "
                            "'mean rating': format(datum.mean_rating, '.2f')}"
                        },
                    }
                },
            }
        ],
    }
    vis_state = {
        "title": "Movie embedding map",
        "type": "vega",
        "params": {"spec": json.dumps(spec, indent=2)},
        "aggs": [],
    }
    return {
        "type": "visualization",
        "id": ids.vis("embedding-map"),
        "attributes": {
            "title": "Movie embedding map",
            "description": (
                f"2-D PCA projection of the item vectors: up to {MAP_LIMIT:,} movies, the most rated in the "
                "dashboard's time range and filters; colour = main genre, size = ratings in range"
            ),
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


def axes(value_title: str, category_title: str, *, value_max: float | None = None) -> dict:
    """Axis titles spelt out: without them Kibana titles the value axis after the first metric ("Count")."""
    scale: dict = {"type": "linear", "mode": "normal"}
    if value_max is not None:
        scale.update({"setYExtents": True, "min": 0, "max": value_max})
    return {
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "scale": {"type": "linear"},
                "labels": {"show": True, "truncate": 100, "filter": False},
                "title": {"text": category_title},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "scale": scale,
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": value_title},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": "histogram",
                "mode": "normal",
                "data": {"label": value_title, "id": "1"},
                "valueAxis": "ValueAxis-1",
            }
        ],
    }


def visualizations(ids: Ids) -> list[dict]:
    count = agg("1", "count", "metric")
    return [
        visualization(
            ids.vis("rating-distribution"),
            "Rating distribution",
            "histogram",
            ids.pattern("ratings"),
            [count, agg("2", "histogram", "segment", field="rating", interval=0.5, min_doc_count=False)],
            bar(axes("Ratings", "Stars")),
        ),
        visualization(
            ids.vis("ratings-over-time"),
            "Ratings over time",
            "line",
            ids.pattern("ratings"),
            [count, agg("2", "date_histogram", "segment", field="date", interval="auto", min_doc_count=1)],
            {"type": "line"},
        ),
        visualization(
            ids.vis("avg-rating-by-genre"),
            "Average rating by genre",
            "histogram",
            ids.pattern("ratings"),
            [
                agg("1", "avg", "metric", field="rating", customLabel="Average rating (stars)"),
                agg("2", "terms", "segment", field="genres", size=20, order="desc", orderBy="1", customLabel="Genre"),
            ],
            bar(axes("Average rating (stars)", "Genre", value_max=5)),
        ),
        visualization(
            ids.vis("top-movies"),
            f"Best movies (damped average, {BEST_MIN_RATINGS}+ ratings)",
            "table",
            ids.pattern("movies"),
            [
                agg("1", "max", "metric", field="damped_rating", customLabel="Damped average"),
                agg("3", "max", "metric", field="num_ratings", customLabel="Ratings"),
                agg("2", "terms", "bucket", field="title.raw", size=25, order="desc", orderBy="1", customLabel="Movie"),
            ],
            {"perPage": 25, "showTotal": False},
            query=f"num_ratings >= {BEST_MIN_RATINGS}",
        ),
        visualization(
            ids.vis("movie-avg-rating"),
            "Movies by mean rating",
            "histogram",
            ids.pattern("movies"),
            [count, agg("2", "histogram", "segment", field="avg_rating", interval=0.25, min_doc_count=False)],
            bar(axes("Movies", "Mean rating (stars)")),
        ),
        visualization(
            ids.vis("activity-levels"),
            "Users by activity level",
            "pie",
            ids.pattern("users"),
            [count, agg("2", "terms", "segment", field="activity_level", size=5, order="desc", orderBy="1")],
            {"type": "pie", "isDonut": True, "addLegend": True},
        ),
        visualization(
            ids.vis("ratings-per-user"),
            "Ratings per user",
            "histogram",
            ids.pattern("users"),
            [count, agg("2", "histogram", "segment", field="num_ratings", interval=50, min_doc_count=False)],
            bar(axes("Users", "Ratings given")),
        ),
        visualization(
            ids.vis("active-users"),
            "Most active users",
            "table",
            ids.pattern("users"),
            [
                agg("1", "max", "metric", field="num_ratings", customLabel="Ratings"),
                agg("3", "max", "metric", field="avg_rating", customLabel="Mean rating"),
                agg("2", "terms", "bucket", field="user_id", size=20, order="desc", orderBy="1", customLabel="User"),
            ],
            {"perPage": 20, "showTotal": False},
        ),
        vega_embedding_map(ids),
    ]


def dashboard(ids: Ids, vis: list[dict]) -> dict:
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
        "id": ids.dashboard,
        "attributes": {
            "title": "movierec: ratings, users and embeddings"
            + ("" if ids.prefix == DEFAULT_PREFIX else f" ({ids.prefix}*)"),
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


def build(prefix: str = DEFAULT_PREFIX) -> str:
    """The saved objects for the indices under `prefix`, one JSON object per line."""
    ids = Ids(prefix)
    objects = [index_pattern(ids.pattern(kind), ids.index(kind), tf) for kind, tf in INDEX_PATTERNS.items()]
    vis = visualizations(ids)
    objects += vis + [dashboard(ids, vis)]
    return "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in objects)


if __name__ == "__main__":
    OUT.write_text(build())
    print(f"wrote {OUT}")
