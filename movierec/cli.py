"""`movierec` command line: es, data, pipeline, index, serve, demo."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from movierec.sparkcluster import LocalSparkCluster

from movierec.config import get_settings
from movierec.errors import MovierecError
from movierec.esnode import EsNodeError
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


_DEBUG = {"on": False}  # --debug: let an unexpected error's traceback out (never with locals)


def _redact(text: str) -> str:
    """`text` with every configured secret replaced by ****."""
    try:
        settings = get_settings()
    except Exception:  # settings that do not parse: nothing to redact with
        return text
    for value in (settings.es_api_key, settings.es_password, settings.kibana_api_key, settings.kibana_password):
        if value is not None and value.get_secret_value():
            text = text.replace(value.get_secret_value(), "****")
    if settings.api_key:
        text = text.replace(settings.api_key, "****")
    return text


def _unexpected(exc: Exception) -> str:
    """One line for an error no command expected: its type and the first line of its message (a Spark
    error's message is hundreds of lines), at most 300 characters, with secrets redacted."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    text = _redact(f"{type(exc).__name__}: {first}")
    return (text[:297] + "...") if len(text) > 300 else text


class _OneLineErrors(TyperGroup):
    """The one place where errors become one line on stderr and exit code 1, for every command:
    any MovierecError (its message is written for the reader), an unreachable Elasticsearch, and any
    other error (type and first line, plus the hint to re-run with --debug for the traceback)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MovierecError as exc:
            _fail(_redact(str(exc)))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            if _es_unreachable(exc):
                _fail(f"Elasticsearch is not reachable at {get_settings().es_url}: start it with `movierec es up`")
            if _DEBUG["on"]:
                raise
            _fail(f"{_unexpected(exc)} (unexpected; re-run with --debug for the traceback)")


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
spark_app = typer.Typer(
    help="A local standalone Spark cluster (master + workers) from the Spark in pyspark.", no_args_is_help=True
)
app.add_typer(spark_app, name="spark")
ratings_app = typer.Typer(help="Rating streams: files of rating events.", no_args_is_help=True)
app.add_typer(ratings_app, name="ratings")


INGEST_LISTED = 20  # rejected lines printed after the counts; the rest are counted


@ratings_app.command("ingest")
def ratings_ingest(
    file: Annotated[Path, typer.Argument(help="CSV (userId,movieId,rating[,timestamp][,event_id]) or NDJSON")],
) -> None:
    """Apply a file of rating events through the API's write path (batches of 10,000, like
    POST /ratings:bulk): live statistics, audience vectors, idempotent by event_id. Prints the count
    per outcome, then the rejected lines with their reasons."""
    import asyncio

    from movierec.search import live, writes
    from movierec.search.client import async_client
    from movierec.search.indices import IndexNames
    from movierec.search.ratings import ModelCache

    csv_format = file.suffix.lower() == ".csv"
    # utf-8-sig: a spreadsheet's CSV often starts with a byte-order mark, which would hide the header's first name.
    total = 0  # lines with an event, for the progress bar; read once before anything is applied
    try:
        with file.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    total += bool(line.decode("utf-8").strip())
                except UnicodeDecodeError:
                    _fail(f"{file}: line {number} is not UTF-8; nothing was applied")
    except FileNotFoundError:
        _fail(f"{file}: no such file")
    except IsADirectoryError:
        _fail(f"{file}: is a directory, not a file of rating events")
    except OSError as exc:
        _fail(f"{file}: cannot be read ({exc.strerror or exc})")
    total -= 1 if csv_format and total else 0  # the header
    settings = get_settings()
    names = IndexNames(settings.index_prefix)

    async def go() -> writes.IngestSummary:
        async with async_client(settings.es_connection()) as es:
            model = await ModelCache().current(es, names)
            with (
                file.open(encoding="utf-8-sig") as handle,
                typer.progressbar(length=max(total, 0), label="ingesting", file=sys.stderr) as bar,
            ):
                events = live.read_events(handle, csv_format=csv_format)
                return await writes.ingest(
                    es, names, model, events, consent_default=settings.consent_default, progress=bar.update
                )

    summary = asyncio.run(go())
    typer.echo(", ".join(f"{k} {v}" for k, v in summary.counts.items()))
    for line, reason in summary.rejections[:INGEST_LISTED]:
        # A reason of a malformed line names the line already ("line 3 is not JSON: ...").
        typer.echo(f"  rejected {reason}" if reason.startswith("line ") else f"  rejected line {line}: {reason}")
    more = summary.counts["rejected"] - min(len(summary.rejections), INGEST_LISTED)
    if more > 0:
        typer.echo(f"  ... and {more} more rejected")


def _spark_cluster(port: int, ui_port: int) -> LocalSparkCluster:
    from movierec.sparkcluster import LocalSparkCluster

    return LocalSparkCluster(get_settings().runs_dir / "spark-cluster", port=port, ui_port=ui_port)


@spark_app.command("up")
def spark_up(
    workers: Annotated[int, typer.Option(help="worker processes (1..8)")] = 2,
    cores: Annotated[int, typer.Option(help="cores per worker")] = 1,
    memory: Annotated[str, typer.Option(help="memory per worker, e.g. 1g")] = "1g",
    port: Annotated[int, typer.Option(help="master port")] = 7077,
    ui_port: Annotated[int, typer.Option(help="master web UI port (workers take the next ones)")] = 8080,
) -> None:
    """Start a master on 127.0.0.1 and N workers; use it with SPARK_MASTER=spark://127.0.0.1:7077."""
    from movierec.sparkcluster import SparkClusterError, Worker

    try:
        typer.echo(_spark_cluster(port, ui_port).up(workers, worker=Worker(cores=cores, memory=memory)))
    except (SparkClusterError, ValueError) as exc:
        _fail(str(exc))


@spark_app.command("status")
def spark_status(port: int = 7077, ui_port: int = 8080) -> None:
    """The master, its workers and their pids."""
    typer.echo(_spark_cluster(port, ui_port).status())


@spark_app.command("down")
def spark_down(port: int = 7077, ui_port: int = 8080) -> None:
    """Stop the master and every worker."""
    typer.echo(_spark_cluster(port, ui_port).down())


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an unexpected error")] = False,
) -> None:
    _DEBUG["on"] = debug
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
def es_up(
    wait: Annotated[float, typer.Option(help="seconds to wait for health yellow")] = 240.0,
    nodes: Annotated[int, typer.Option(help="node processes (1..5) on consecutive ports from ES_URL's")] = 1,
    security: Annotated[bool, typer.Option(help="TLS on HTTP and transport, API keys (see `es env`)")] = False,
) -> None:
    """Fetch (once), start and wait for the local node or cluster."""
    from movierec.escluster import LocalCluster

    try:
        typer.echo(LocalCluster(get_settings()).up(nodes, security=security, wait_s=wait))
    except (EsNodeError, ValueError) as exc:
        _fail(str(exc))


@es_app.command("down")
def es_down() -> None:
    """Stop every node of the local cluster."""
    from movierec.escluster import LocalCluster

    try:
        typer.echo(LocalCluster(get_settings()).down())
    except EsNodeError as exc:
        _fail(str(exc))


@es_app.command("status")
def es_status() -> None:
    """Say what runs where: each node's pid, ports and role; the cluster's health; whether security is on."""
    from movierec.escluster import LocalCluster

    try:
        lines = LocalCluster(get_settings()).status()
    except EsNodeError as exc:
        _fail(str(exc))
    typer.echo("\n".join(lines))
    if lines[0].startswith("not running"):
        raise typer.Exit(3)


@es_app.command("env")
def es_env(
    role: Annotated[str, typer.Option(help="pipeline (creates indices) or api (narrower)")] = "pipeline",
) -> None:
    """Connection settings of the running local cluster as KEY=value lines (eval them in a shell)."""
    from movierec.escluster import LocalCluster

    try:
        typer.echo("\n".join(LocalCluster(get_settings()).env(role)))
    except (EsNodeError, ValueError) as exc:
        _fail(str(exc))


def _es_client() -> Elasticsearch:
    from movierec.search.client import sync_client

    return sync_client(get_settings().es_connection(request_timeout=60))


def _require_es(es: Elasticsearch) -> None:
    from elasticsearch import ApiError, TransportError

    from movierec.search.client import explain

    conn = get_settings().es_connection()
    try:
        es.cluster.health()
    except (ApiError, TransportError) as exc:
        hint = ": start it with `movierec es up`" if conn.url.startswith("http://127.0.0.1") else ""
        _fail(explain(exc, conn) + hint)


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
    allow_shrink: Annotated[
        bool, typer.Option(help="publish even with under half the serving version's users/ratings/movies")
    ] = False,
    force: Annotated[bool, typer.Option(help="publish even if the model ranks below the popularity baseline")] = False,
) -> None:
    """Load, clean, engineer features, train ALS, evaluate, export and index."""
    import shutil
    import tempfile

    from movierec.pipeline.download import unpack_dataset_zip
    from movierec.pipeline.load import DatasetError
    from movierec.pipeline.run import ExportFailed, NotPublished, PipelineConfig, RunOptions, run_pipeline
    from movierec.pipeline.spark import build_session, stop_session

    settings = get_settings()
    folder = data or settings.bundled_dataset
    es = _es_client() if index else None
    if es is not None:
        _require_es(es)
    source, unpacked = None, None
    if folder.is_file() and folder.suffix.lower() == ".zip":
        source = str(folder.resolve())
        unpacked = Path(tempfile.mkdtemp(prefix="movierec-data-"))  # a copy of the ratings: removed after the run
        try:
            folder = unpack_dataset_zip(folder, unpacked / "unpacked")
        except DatasetError as exc:
            shutil.rmtree(unpacked, ignore_errors=True)
            _fail(str(exc))
    elif folder.is_file():
        _fail(f"--data {folder} is a file: give a MovieLens folder, or a .zip of one")
    elif not folder.is_dir():
        _fail(f"--data {folder}: no such folder")
    from movierec.pipeline.download import progress_bar

    options = RunOptions(
        bar=progress_bar,
        data=folder,
        params=AlsParams(rank=rank, reg_param=reg_param, max_iter=max_iter, alpha=alpha),
        evaluate=evaluate,
        tune=tune,
        max_users=max_users,
        index=index,
        allow_shrink=allow_shrink,
        force=force,
        source=source,
    )
    from movierec.sparkcluster import check_master

    check_master(settings.spark_master)
    spark = build_session(settings.spark_master, settings.spark_driver_memory)
    try:
        report = run_pipeline(spark, PipelineConfig.of(settings), options, es)
    except DatasetError as exc:
        _fail(str(exc))
    except (ExportFailed, NotPublished) as exc:
        _fail(str(exc))
    finally:
        stop_session(spark)  # and its JVM: `demo` serves next, in this process
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)
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
def dashboards_import(
    kibana: Annotated[str | None, typer.Option(help="Kibana URL (default: KIBANA_URL)")] = None,
) -> None:
    """Import (overwrite) the index patterns, visualisations and dashboard, built for MOVIEREC_INDEX_PREFIX.

    Authenticates with KIBANA_API_KEY, or KIBANA_USERNAME and KIBANA_PASSWORD, when set.
    """
    from movierec.errors import MovierecError
    from movierec.kibana import import_saved_objects

    settings = get_settings()
    url = kibana or settings.kibana_url
    try:
        count = import_saved_objects(
            url,
            prefix=settings.index_prefix,
            api_key=settings.kibana_api_key,
            username=settings.kibana_username,
            password=settings.kibana_password,
        )
    except MovierecError as exc:
        _fail(str(exc))
    typer.echo(
        f"imported {count} saved objects for {settings.index_prefix}* into {url}: "
        "open Dashboards > 'movierec: ratings, users and embeddings'"
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
    typer.echo(f"{'version':<24} {'serving':<8} {'state':<10} {'movies':>8} {'users':>8} {'ratings':>9}")
    for row in rows:
        serving = "*" if row["serving"] else ""
        # A version whose load never finished is shown, marked, so an operator sees what the next run deletes.
        state = "complete" if row["complete"] else "incomplete"
        movies, users, rated = (str(row[k]) if row[k] is not None else "-" for k in ("movies", "users", "ratings"))
        typer.echo(f"{row['version']:<24} {serving:<8} {state:<10} {movies:>8} {users:>8} {rated:>9}")


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
            es,
            settings.es_connection(),
            names,
            from_version=left,
            to_version=version,
            consent_default=settings.consent_default,
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
def backup(
    list_only: Annotated[bool, typer.Option("--list", help="list this prefix's snapshots instead")] = False,
) -> None:
    """Snapshot the serving version and every unversioned index (API ratings' home, deletions, consents,
    model cards, added movies ...) into MOVIEREC_SNAPSHOT_REPOSITORY."""
    from movierec.search import backup as snapshots
    from movierec.search import indices

    settings = get_settings()
    es = _es_client()
    _require_es(es)
    names = indices.IndexNames(settings.index_prefix)
    if list_only:
        kept = snapshots.snapshots(es, names, settings.snapshot_repository)
        if not kept:
            typer.echo(f"no snapshot of {names.prefix}* in '{settings.snapshot_repository}' yet")
        for snap in kept:
            typer.echo(
                f"{snap.name}  {snap.started}  {snap.state}  version {snap.version}  {len(snap.indices)} indices"
            )
        return
    snap = snapshots.create(es, names, settings.snapshot_repository, settings.snapshot_location)
    typer.echo(
        f"snapshot {snap.name} in repository '{settings.snapshot_repository}': serving version {snap.version}, "
        f"{len(snap.indices)} indices ({', '.join(snap.indices)})"
    )


@app.command()
def restore(
    snapshot: Annotated[str | None, typer.Option(help="snapshot name (default: this prefix's newest)")] = None,
    replace: Annotated[bool, typer.Option(help="delete the snapshot's indices that exist, then restore")] = False,
) -> None:
    """Restore a backup: its indices with their aliases; the aliases then serve its version."""
    from movierec.search import backup as snapshots
    from movierec.search import indices

    settings = get_settings()
    es = _es_client()
    _require_es(es)
    names = indices.IndexNames(settings.index_prefix)
    snap = snapshots.restore(es, names, settings.snapshot_repository, snapshot=snapshot, replace=replace)
    typer.echo(f"restored {snap.name}: {len(snap.indices)} indices; serving version {snap.version}")


@app.command()
def catalog(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of Markdown")] = False,
    mappings: Annotated[Path | None, typer.Option(help="a folder of mapping files (default: the shipped ones)")] = None,
) -> None:
    """The data catalog (from the mappings' _meta): every index and field, what is personal, retention."""
    import dataclasses
    import json

    from movierec.catalog import FILES, load_catalog, render_markdown

    settings = get_settings()
    entries = load_catalog(mappings)
    if as_json:
        files = [dataclasses.asdict(f) for f in FILES]  # kind "file", with a path
        typer.echo(json.dumps([dataclasses.asdict(e) for e in entries] + files, indent=2))
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
    typer.echo(f"[1/3] Elasticsearch at {settings.es_connection().describe()}")
    es_up()
    typer.echo("[2/3] pipeline on the bundled ml-latest-small")
    pipeline_run(data=None, evaluate=False, max_users=max_users)
    typer.echo(f"[3/3] API on http://127.0.0.1:{port} (try /recommendations?title=toy%20story, docs at /docs)")
    serve(port=port)


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="folder for insights.md and figures/")] = Path("docs"),
    data: Annotated[Path | None, typer.Option(help="MovieLens folder (default: the bundled ml-latest-small)")] = None,
    sweep: Annotated[
        Path | None, typer.Option(help="cached rank/regParam sweep (JSON, written by the notebook)")
    ] = Path("notebooks/sweep.json"),
) -> None:
    """Write the notebook's findings without Jupyter: PNG figures and insights.md, from the data and the indices."""
    import asyncio

    from movierec import report as insights_report
    from movierec.pipeline.insights import load_cleaned
    from movierec.pipeline.spark import build_session

    settings = get_settings()
    folder = data or settings.bundled_dataset
    if not folder.is_dir():
        _fail(f"data folder {folder} does not exist")
    _require_es(_es_client())
    spark = build_session(settings.spark_master, settings.spark_driver_memory, app_name="movierec-report")
    try:
        cleaned = load_cleaned(spark, folder)
    finally:
        spark.stop()
    stats = insights_report.summary(cleaned)
    try:
        view = asyncio.run(insights_report.model_view(settings.es_url, settings.index_prefix))
    except Exception as exc:
        _fail(f"could not read the serving indices under {settings.index_prefix}* ({type(exc).__name__}: {exc})")
    cached = insights_report.load_sweep(sweep)
    if cached is None:
        typer.echo(f"note: no sweep at {sweep}: the held-out and sweep sections are left out")
    for path in insights_report.write_report(out, stats, cached, view):
        typer.echo(f"wrote {path}")


def main() -> None:  # pragma: no cover
    sys.exit(app())
