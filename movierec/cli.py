"""`movierec` command line: es, data, pipeline, index, serve, demo."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from typer.core import TyperGroup

from movierec.config import get_settings
from movierec.errors import MovierecError
from movierec.esnode import LocalNode
from movierec.pipeline.params import AlsParams

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _es_unreachable(exc: Exception) -> bool:
    # Without importing the client (CLI start-up): if it raised, it is loaded.
    transport = sys.modules.get("elastic_transport")
    return transport is not None and isinstance(exc, transport.ConnectionError | transport.ConnectionTimeout)


class _OneLineErrors(TyperGroup):
    """The one place where errors become one line on stderr and exit code 1, for every command:
    any MovierecError (its message is written for the reader) and an unreachable Elasticsearch."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MovierecError as exc:
            _fail(str(exc))
        except Exception as exc:
            if not _es_unreachable(exc):
                raise
            _fail(f"Elasticsearch is not reachable at {get_settings().es_url}: start it with `movierec es up`")


app = typer.Typer(
    help="movierec: Spark ALS + Elasticsearch kNN + FastAPI movie recommender.",
    no_args_is_help=True,
    cls=_OneLineErrors,
    pretty_exceptions_show_locals=False,  # a traceback that does get out must not print settings (the API key)
)
es_app = typer.Typer(
    help="The local Elasticsearch node (integ-test-zip build from Maven Central).", no_args_is_help=True
)
pipeline_app = typer.Typer(help="The Spark pipeline.", no_args_is_help=True)
index_app = typer.Typer(help="Versioned indices and their aliases.", no_args_is_help=True)
app.add_typer(es_app, name="es")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(index_app, name="index")
data_app = typer.Typer(
    help="MovieLens datasets: download from GroupLens, or synthesize for scale tests.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per HTTP request drowns the stage lines, and a retry's warning carries a traceback: an
    # unreachable node is reported once, as one line (_OneLineErrors). --verbose shows the retries.
    logging.getLogger("elastic_transport").setLevel(logging.WARNING if verbose else logging.ERROR)


@app.command()
def check() -> None:
    """Check the prerequisites: Java 17+ for Spark, a JDK for Elasticsearch, Maven to fetch it."""
    from movierec.doctor import run_checks

    problems = run_checks(get_settings(), typer.echo)
    if problems:
        _fail(f"{problems} prerequisite(s) missing, see above")


@es_app.command("up")
def es_up(wait: Annotated[float, typer.Option(help="seconds to wait for health yellow")] = 180.0) -> None:
    """Fetch (once), start and wait for the local node."""
    typer.echo(LocalNode(get_settings()).up(wait_s=wait))


@es_app.command("down")
def es_down() -> None:
    """Stop the local node by its pid."""
    typer.echo(LocalNode(get_settings()).down())


@es_app.command("status")
def es_status() -> None:
    """Say what runs where."""
    status = LocalNode(get_settings()).status()
    typer.echo(status.describe())
    if not status.running:
        raise typer.Exit(3)


def _es_client() -> Elasticsearch:
    from elasticsearch import Elasticsearch

    settings = get_settings()
    return Elasticsearch(settings.es_url, request_timeout=60)


def _require_es(es: Elasticsearch) -> None:
    """Fail early (one line, by _OneLineErrors) when Elasticsearch is not reachable."""
    es.cluster.health()


@pipeline_app.command("run")
def pipeline_run(
    data: Annotated[Path | None, typer.Option(help="MovieLens folder (default: the bundled ml-latest-small)")] = None,
    rank: Annotated[int, typer.Option(help="ALS rank (served implicit model)")] = AlsParams.rank,
    reg_param: float = AlsParams.reg_param,
    max_iter: int = AlsParams.max_iter,
    alpha: Annotated[float, typer.Option(help="implicit confidence: 1 + alpha * rating")] = AlsParams.alpha,
    evaluate: Annotated[bool, typer.Option(help="hold out 20% and report metrics first")] = True,
    tune: Annotated[bool, typer.Option(help="grid-search rank/regParam/alpha on the training split")] = False,
    max_users: Annotated[int | None, typer.Option(help="only the first N users (quick runs)")] = None,
    index: Annotated[bool, typer.Option(help="write to Elasticsearch and switch aliases")] = True,
) -> None:
    """Load, clean, engineer features, train ALS, evaluate, export and index."""
    from movierec.pipeline.run import RunOptions, run_pipeline
    from movierec.pipeline.spark import build_session

    settings = get_settings()
    folder = data or settings.bundled_dataset
    if not folder.is_dir():
        _fail(f"data folder {folder} does not exist")
    es = _es_client() if index else None
    if es is not None:
        _require_es(es)
    from movierec.pipeline.download import progress_bar

    options = RunOptions(
        bar=progress_bar,
        data=folder,
        params=AlsParams(rank=rank, reg_param=reg_param, max_iter=max_iter, alpha=alpha),
        evaluate=evaluate,
        tune=tune,
        max_users=max_users,
        index=index,
    )
    spark = build_session(settings)
    try:
        report = run_pipeline(spark, settings, options, es)
    finally:
        spark.stop()
    typer.echo("\n" + report.table())
    if report.cleaning.counts:
        typer.echo("\ncleaning:\n  " + "\n  ".join(report.cleaning.lines()))
    typer.echo(f"\nmodel card: {report.model_card_path}")
    if report.published:
        typer.echo(f"serving version {report.version}")


@data_app.command("download")
def data_download(
    name: Annotated[
        str, typer.Argument(help="ml-latest-small, ml-latest, ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m")
    ],
    dest: Annotated[
        Path | None, typer.Option(help="folder to unpack into (default: MOVIEREC_DATA_DIR/movielens)")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="mirror of the GroupLens datasets folder")] = None,
) -> None:
    """Download, verify (size and checksum) and unpack a MovieLens dataset."""
    from movierec.pipeline.download import GROUPLENS, download_dataset, progress_bar

    folder = dest or get_settings().data_dir / "movielens"
    target = download_dataset(name, folder, base_url=base_url or GROUPLENS, progress=progress_bar(name))
    typer.echo(f"{name} ready in {target}: movierec pipeline run --data {target}")


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Argument(help="folder to write movies.csv, ratings.csv, links.csv into")],
    ratings: Annotated[int, typer.Option(help="number of ratings, e.g. 1000000 or 10000000")] = 1_000_000,
    seed: int = 42,
) -> None:
    """Write a synthetic MovieLens-shaped dataset (ml-latest layout) for scale tests."""
    from movierec.pipeline.download import progress_bar
    from movierec.pipeline.synth import synthesize

    stats = synthesize(out, ratings, seed=seed, progress=progress_bar(out.name))
    typer.echo(f"\n{stats['ratings']} ratings, {stats['users']} users, {stats['movies']} movies in {out}")


dashboards_app = typer.Typer(help="Kibana dashboards (saved objects in dashboards/).", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("import")
def dashboards_import(kibana: Annotated[str, typer.Option(help="Kibana URL")] = "http://127.0.0.1:5601") -> None:
    """Import (overwrite) the movierec index patterns, visualisations and dashboard."""
    from movierec.kibana import import_saved_objects

    count = import_saved_objects(kibana)
    typer.echo(
        f"imported {count} saved objects into {kibana}: open Dashboards > 'movierec: ratings, users and embeddings'"
    )


@index_app.command("status")
def index_status() -> None:
    """Versions, counts and which one the aliases serve."""
    from movierec.search import indices

    es = _es_client()
    _require_es(es)
    rows = indices.status(es, indices.IndexNames(get_settings().index_prefix))
    if not rows:
        typer.echo("no versions indexed yet: run `movierec pipeline run`")
        return
    typer.echo(f"{'version':<24} {'serving':<8} {'movies':>8} {'users':>8} {'ratings':>9}")
    for row in rows:
        serving = "*" if row["serving"] else ""
        typer.echo(f"{row['version']:<24} {serving:<8} {row['movies']:>8} {row['users']:>8} {row['ratings']:>9}")


@index_app.command("rollback")
def index_rollback() -> None:
    """Serve the previous version again; API ratings given since are kept and folded into it."""
    from movierec.search import carryover, indices

    settings = get_settings()
    es = _es_client()
    _require_es(es)
    names = indices.IndexNames(settings.index_prefix)
    left = indices.serving_version(es, names)
    version = indices.rollback(es, names)
    typer.echo(f"serving version {version}")
    if left:
        kept = carryover.carry_over(
            es, settings.es_url, names, from_version=left, to_version=version, consent_default=settings.consent_default
        )
        refolded = "refolded" if kept.refolded else "not refolded (no model card)"
        typer.echo(f"API ratings kept: {kept.found} found in {left}; {len(kept.users)} users updated, {refolded}")


@index_app.command("migrate")
def index_migrate() -> None:
    """Bring the unversioned indices (models, deletions, consents) to the current schema; safe to run again."""
    from movierec.search import indices, migrate

    es = _es_client()
    _require_es(es)
    done = migrate.migrate_shared_indices(es, indices.IndexNames(get_settings().index_prefix))
    if not done:
        typer.echo("nothing to migrate: every unversioned index has its current schema")
    for m in done:
        alias = m.target.removesuffix(f"-v{m.to_version}")
        typer.echo(
            f"{alias}: {m.documents} documents from {m.source} (schema {m.from_version}) "
            f"into {m.target} (schema {m.to_version})"
        )


@app.command()
def catalog(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of Markdown")] = False,
    mappings: Annotated[Path | None, typer.Option(help="a folder of mapping files (default: the shipped ones)")] = None,
) -> None:
    """The data catalog (from the mappings' _meta): every index and field, what is personal, retention."""
    import dataclasses
    import json

    from movierec.catalog import load_catalog, render_markdown

    settings = get_settings()
    entries = load_catalog(mappings)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(e) for e in entries], indent=2))
    else:
        typer.echo(render_markdown(entries, settings.index_prefix), nl=False)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the HTTP API with uvicorn."""
    import uvicorn

    if not get_settings().api_key:
        typer.echo("note: MOVIEREC_API_KEY is not set, so rating writes need no key (demo mode)")
    uvicorn.run("movierec.service.main:app", host=host, port=port, workers=workers, log_level="info")


@app.command()
def demo(port: int = 8000, max_users: Annotated[int | None, typer.Option()] = None) -> None:
    """es up + pipeline run on the bundled data + serve."""
    settings = get_settings()
    typer.echo(f"[1/3] Elasticsearch at {settings.es_url}")
    es_up()
    typer.echo("[2/3] pipeline on the bundled ml-latest-small")
    pipeline_run(data=None, evaluate=False, max_users=max_users)
    typer.echo(f"[3/3] API on http://127.0.0.1:{port} (try /recommendations?title=toy%20story, docs at /docs)")
    serve(port=port)


def main() -> None:  # pragma: no cover
    sys.exit(app())
