"""The pipeline: load -> clean -> features -> (tune) -> (evaluate) -> train -> vectors -> index -> late ratings.

`run_pipeline` is a list of stage calls. Each stage is a function from the results before it to a
small typed result, timed and logged by one wrapper (`_Run.stage`); nothing is passed by mutation.
The pipeline takes plain values (`PipelineConfig`), never the process-wide `Settings`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError
from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from movierec.connection import EsConnection
from movierec.errors import Failed
from movierec.modelcard import card_from_document
from movierec.pipeline import added, als, clean, consent, evaluate, export, features, recovery, tune
from movierec.pipeline.faults import pause_point
from movierec.pipeline.load import DatasetError, RawData, load_movielens
from movierec.pipeline.spark import executor_count, size_shuffle_partitions
from movierec.search import added_carryover, carryover, indices
from movierec.search.domain import RatingSource
from movierec.search.foldin import item_gram, user_gram

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
# Per index kind, a progress callback (done, total) or None.
BarFactory = Callable[[str], Callable[[int, int | None], None] | None]
T = TypeVar("T")


@dataclass(frozen=True)
class PipelineConfig:
    """What the pipeline needs to know about where it runs; plain values."""

    es: EsConnection
    runs_dir: Path
    index_prefix: str = "movierec-"
    consent_default: bool = True
    spark_master: str = "local[*]"
    runs_retention: int = 5  # run folders kept (with their rejected rows and checkpoints)
    replicas: str = "auto"  # MOVIEREC_REPLICAS, for every index the run creates

    @classmethod
    def of(cls, source: Any) -> PipelineConfig:
        return cls(
            es=source.es_connection(request_timeout=60),
            runs_dir=Path(source.runs_dir),
            index_prefix=source.index_prefix,
            consent_default=source.consent_default,
            spark_master=source.spark_master,
            runs_retention=source.runs_retention,
            replicas=source.replicas,
        )


@dataclass
class RunOptions:
    data: Path
    params: als.AlsParams = field(default_factory=als.AlsParams)
    evaluate: bool = True
    tune: bool = False  # grid-search both models on the training split first
    max_users: int | None = None  # a slice of the data, for quick runs and tests (implies allow_shrink)
    index: bool = True
    allow_shrink: bool = False  # publish even with under half the serving version's users/ratings/movies
    force: bool = False  # publish even when the model ranks worse than the popularity baseline
    source: str | None = None  # what the user named (a zip), when `data` is where it was unpacked
    bar: BarFactory | None = None  # progress per index


@dataclass
class RunReport:
    version: str
    stages: list[tuple[str, float, str]] = field(default_factory=list)
    cleaning: clean.CleaningReport = field(default_factory=clean.CleaningReport)
    metrics: dict = field(default_factory=dict)
    tuning: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    published: bool = False
    model_card_path: Path | None = None
    spark: dict = field(default_factory=dict)  # master, executors, documents per bulk partition

    def table(self) -> str:
        width = max((len(name) for name, _, _ in self.stages), default=5)
        lines = [f"{'stage':<{width}}  {'seconds':>8}  detail"]
        lines += [f"{name:<{width}}  {secs:>8.1f}  {detail}" for name, secs, detail in self.stages]
        lines.append(f"{'total':<{width}}  {sum(s for _, s, _ in self.stages):>8.1f}")
        return "\n".join(lines)


class ExportFailed(Failed):
    """Some documents were refused by Elasticsearch; the aliases were not switched."""


# Spark's abort reason for a lost executor runs to about 350 characters; the whole of it fits.
CAUSE_CHARS = 500


class StageFailed(Failed):
    """A Spark job of a stage failed for good; the aliases were not switched (that is the index stage's last step)."""

    def __init__(self, stage: str, exc: Exception, *, published: bool = False) -> None:
        java = getattr(exc, "java_exception", None)
        cause = (java.toString() if java is not None else str(exc)).splitlines()[0]
        # A Python task's error brings its own traceback text along; the exception's type is enough here.
        cause = cause.split(" Traceback (most recent call last)")[0].rstrip(": ")
        if len(cause) > CAUSE_CHARS:  # cut between words: a cut number ("exited with code 13" for 137) misleads
            cause = cause[:CAUSE_CHARS].rsplit(" ", 1)[0] + " ..."
        after = (
            "the new version was already published" if published else "aliases not switched, serving version unchanged"
        )
        super().__init__(f"stage {stage} failed: {cause}; {after}")
        self.stage = stage


class NotPublished(Failed):
    """A guard refused to publish this version; the serving version is unchanged."""


# A new version from the same source as the serving one with under this fraction of its users,
# ratings or movies is refused: a truncated or wrong file, not a smaller catalogue.
SHRINK_FLOOR = 0.5


# ---- stage results ---------------------------------------------------------------------------


@dataclass
class Loaded:
    source: Path
    raw: RawData
    previous: str | None  # the serving version before this run
    live: list[dict]  # API ratings of the serving version
    deletions: list[dict]  # API deletions and erasures
    consents: list[dict]
    live_since: int  # epoch seconds: API ratings after this arrive during the run
    recovered: list[str] = field(default_factory=list)  # what killed runs left, cleaned up or finished
    added: list[dict] = field(default_factory=list)  # movies added through the API (pipeline/added.py)
    shuffle_partitions: int = 0  # sized from the input (pipeline/spark.py)

    def detail(self) -> str:
        text = f"layout {self.raw.layout} from {self.source}, {self.shuffle_partitions} shuffle partitions"
        if self.live or self.deletions:
            text += f"; {len(self.live)} API ratings from version {self.previous}, {len(self.deletions)} API deletions"
        return "; ".join([text, *self.recovered])


@dataclass
class Cleaned:
    movies: DataFrame
    ratings: DataFrame  # cached
    counts: dict[str, int]

    def detail(self) -> str:
        c = self.counts
        return f"{c['movies']} movies, {c['ratings']} ratings, {c['rejected']} rejected"


@dataclass
class Guarded:
    note: str

    def detail(self) -> str:
        return self.note


@dataclass
class Features:
    movie_records: DataFrame
    users: DataFrame
    n_users: int
    rating_mean: float  # of every rating: the damping's target, and the live statistics' (model card)

    def detail(self) -> str:
        return f"{self.n_users} users"


@dataclass
class Tuned:
    implicit: als.AlsParams
    explicit: als.AlsParams
    rows: list[dict]

    def detail(self) -> str:
        i, e = self.implicit, self.explicit
        return f"implicit {i.rank}/{i.reg_param}/{i.alpha}, explicit {e.rank}/{e.reg_param}"


@dataclass
class Evaluated:
    metrics: dict

    def detail(self) -> str:
        m = self.metrics
        return (
            f"NDCG@10 {m['als']['ndcg']:.4f} (popularity {m['popularity']['ndcg']:.4f}), "
            f"explicit RMSE {m['explicit']['rmse']:.4f}"
        )


@dataclass
class Trained:
    params: als.AlsParams
    items: DataFrame  # cached item factors
    user_vectors: DataFrame
    gram: np.ndarray  # Y^T Y of exactly the served item factors: the real-time fold-in needs it
    live: dict | None = None  # the baselines of the API's live statistics and audience vectors (search/writes.py)
    user_gram: np.ndarray | None = None  # X^T X of the user factors: the item fold-in of added movies
    item_ids: list[int] = field(default_factory=list)  # the rows of `item_matrix`, collected once
    item_matrix: np.ndarray | None = None

    def detail(self) -> str:
        return f"rank {self.params.rank}, {self.gram.shape[0]}x{self.gram.shape[1]} item Gram matrix"


@dataclass
class Documents:
    movies: DataFrame
    users: DataFrame
    ratings: DataFrame
    n_movies: int
    n_users: int

    def detail(self) -> str:
        return f"{self.n_movies} movie docs, {self.n_users} user docs"


@dataclass
class Published:
    version: str
    written: dict[str, int]
    partitions: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)

    def detail(self) -> str:
        counts = ", ".join(f"{kind} {n}" for kind, n in self.written.items())
        return f"{counts}; {sum(self.written.values())} docs, aliases -> {self.version}"


@dataclass
class Late:
    found: int
    users: int

    def detail(self) -> str:
        return f"{self.found} API ratings arrived during the run; {self.users} users updated and refolded"


# ---- the run ---------------------------------------------------------------------------------


@dataclass
class _Run:
    spark: SparkSession
    config: PipelineConfig
    options: RunOptions
    es: Elasticsearch | None
    progress: Progress
    report: RunReport
    names: indices.IndexNames
    run_dir: Path
    merges: dict[int, int] = field(default_factory=dict)  # added movie id -> the file's id (pipeline/added.py)

    @property
    def source(self) -> str:
        return self.options.source or str(self.options.data)

    @property
    def indexing(self) -> bool:
        return self.es is not None and self.options.index

    def stage(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one stage: log its start, time it, record and print its one-line detail."""
        self.progress(f"[{name}] ...")
        started = time.perf_counter()
        try:
            result = fn(self, *args)
        except Py4JJavaError as exc:  # a Spark job gave up (a task failed spark.task.maxFailures times)
            raise StageFailed(name, exc, published=self.report.published) from exc
        elapsed = time.perf_counter() - started
        text = result.detail()
        self.report.stages.append((name, elapsed, text))
        log.info("stage %s done in %.1fs %s", name, elapsed, text)
        self.progress(f"[{name}] {elapsed:.1f}s {text}")
        return result


def run_pipeline(
    spark: SparkSession,
    config: PipelineConfig,
    options: RunOptions,
    es: Elasticsearch | None = None,
    progress: Progress = print,
) -> RunReport:
    report = RunReport(version=indices.new_version())
    prune_runs(config.runs_dir, keep=config.runs_retention - 1)
    run_dir = config.runs_dir / report.version
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)  # checkpoints (user ids) live here while the run works
    spark.sparkContext.setCheckpointDir(str(run_dir / "checkpoints"))
    run = _Run(
        spark, config, options, es, progress, report, indices.IndexNames(config.index_prefix, config.replicas), run_dir
    )

    loaded = run.stage("load", load_stage)
    cleaned = run.stage("clean", clean_stage, loaded)
    feats = run.stage("features", features_stage, cleaned)
    if run.indexing and loaded.previous:
        run.stage("guards", guard_stage, loaded)
    params, explicit = options.params, als.EXPLICIT_DEFAULTS
    if options.evaluate or options.tune:
        train, test = evaluate.random_split(cleaned.ratings)
        if options.tune:
            tuned = run.stage("tune", tune_stage, train, params)
            params, explicit = tuned.implicit, tuned.explicit
        if options.evaluate:
            run.stage("evaluate", evaluate_stage, train, test, params, explicit)
    trained = run.stage("train", train_stage, cleaned, feats, params)
    docs = run.stage("vectors", vectors_stage, loaded, cleaned, feats, trained)
    card = write_model_card(run, trained)
    if run.indexing:
        card["late_ratings"] = recovery.late_record(loaded.previous, loaded.live_since)
        run.stage("index", index_stage, docs, card)
        pause_point("switched")
        if loaded.previous:
            run.stage("late ratings", late_stage, loaded, card)  # and late deletions
            recovery.mark_late_done(es, run.names, report.version, card["late_ratings"])
    # Spark's checkpoints hold ALS blocks keyed by user id and serve only this run (a run that fails
    # leaves them to the next run's prune_runs).
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return report


# ---- the stages ------------------------------------------------------------------------------


def load_stage(run: _Run) -> Loaded:
    raw = load_movielens(run.spark, run.options.data)
    data_bytes = sum(p.stat().st_size for p in Path(run.options.data).iterdir() if p.is_file())
    partitions = size_shuffle_partitions(run.spark, data_bytes)
    recovered = (
        recovery.recover(
            run.es,
            run.config.es,
            run.names,
            this_version=run.report.version,
            consent_default=run.config.consent_default,
        )
        if run.indexing
        else []
    )
    # Ratings that came in through the API exist only in Elasticsearch: train on them and keep them.
    live_since = int(time.time())
    previous = indices.serving_version(run.es, run.names) if run.indexing else None
    live = carryover.fetch_live_ratings(run.es, run.names.concrete("ratings", previous)) if previous else []
    deletions = carryover.fetch_deletions(run.es, run.names) if run.indexing else []
    consents = carryover.fetch_consents(run.es, run.names) if run.indexing else []
    added_records = added_carryover.fetch_added_movies(run.es, run.names) if run.indexing else []
    pause_point("load")
    return Loaded(
        run.options.data, raw, previous, live, deletions, consents, live_since, recovered, added_records, partitions
    )


def clean_stage(run: _Run, loaded: Loaded) -> Cleaned:
    report, spark = run.report, run.spark
    movies, rejected_movies = clean.clean_movies(loaded.raw.movies, loaded.raw.links, report.cleaning)
    carried = added.carry_in(spark, movies, loaded.added, loaded.live)  # API-added movies join; merges move ratings
    movies, live_ratings, run.merges = carried.movies, carried.live, carried.merges
    report.cleaning.add("movies added through the API (carried over)", carried.added)
    report.cleaning.add("added movies merged into a file's movie", len(carried.merges))
    ratings, rejected_ratings = clean.clean_ratings(loaded.raw.ratings, report.cleaning)
    if run.options.max_users:
        keep = ratings.select("userId").distinct().orderBy("userId").limit(run.options.max_users)
        ratings = ratings.join(keep, "userId", "left_semi")
    # After the slice: a quick run must not drop what users said through the API.
    live_rows = [(r["user_id"], r["movie_id"], float(r["rating"]), int(r["date"])) for r in live_ratings]
    live = spark.createDataFrame(live_rows, clean.LIVE_RATINGS_SCHEMA) if live_rows else None
    ratings = clean.merge_live_ratings(ratings, live, report.cleaning)
    if loaded.deletions:  # otherwise skip a pass over every rating
        deleted_rows = [(d["user_id"], d.get("movie_id"), int(d["date"])) for d in loaded.deletions]
        ratings = clean.drop_deleted_ratings(
            ratings, spark.createDataFrame(deleted_rows, clean.DELETIONS_SCHEMA), report.cleaning
        )
    ratings, kept = clean.keep_known_movies(ratings, movies, report.cleaning)
    n_rejected = report.cleaning.rejected()
    if n_rejected:
        _write_rejected(run, loaded, rejected_movies.unionByName(rejected_ratings))
    # The API's ratings cannot stand in for the data set (nor its unknown movies).
    if not kept.get(RatingSource.MOVIELENS.value):
        raise DatasetError(
            f"{run.source}: the ratings file yields no ratings of known movies after cleaning ({n_rejected} rows "
            f"rejected; their reasons are in {run.run_dir / 'rejected'}); nothing was trained or published"
        )
    counts = {"movies": movies.count(), "ratings": sum(kept.values()), "rejected": n_rejected}
    report.counts.update(counts)
    return Cleaned(movies, ratings, counts)


def _write_rejected(run: _Run, loaded: Loaded, rejected: DataFrame) -> None:
    """Rejected rows as written, with their file and line number, to runs/<version>/rejected/ (mode
    0600: rating rows hold user ids)."""
    numbered = loaded.raw.with_line_numbers(rejected)
    out = run.run_dir / "rejected"
    numbered.select(F.col("_file").alias("file"), "line_no", "source", "reason", "line").orderBy(
        "file", "line_no"
    ).coalesce(1).write.mode("overwrite").json(str(out))
    private(out)


def prune_runs(runs_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` run folders (names sort by time), before a new run starts, and
    the Spark checkpoints of the kept ones (a run that did not finish left them; they hold user ids)."""
    folders = sorted(p for p in Path(runs_dir).glob("v*") if p.is_dir()) if Path(runs_dir).is_dir() else []
    doomed = folders[: max(len(folders) - keep, 0)]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
        log.info("deleted run folder %s (MOVIEREC_RUNS_RETENTION)", folder)
    for folder in folders[len(doomed) :]:
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return doomed


def private(path: Path) -> None:
    """Files under runs/ that may hold personal data are readable by their owner only."""
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for p in paths:
        p.chmod(0o700 if p.is_dir() else 0o600)


def guard_stage(run: _Run, loaded: Loaded) -> Guarded:
    """Refuse a version far smaller than the serving one from the same source (a truncated file)."""
    try:
        serving = run.es.get(index=run.names.models, id=loaded.previous)["_source"]
    except NotFoundError:
        return Guarded("no model card for the serving version: nothing to compare with")
    counts, before = run.report.counts, serving.get("counts", {})
    if serving.get("dataset") != run.source:
        return Guarded(f"replaces dataset {serving.get('dataset')} ({before.get('ratings', '?')} ratings)")
    shrunk = {
        kind: (counts[kind], before[kind])
        for kind in ("users", "ratings", "movies")
        if before.get(kind) and counts.get(kind, 0) < SHRINK_FLOOR * before[kind]
    }
    if shrunk and not (run.options.allow_shrink or run.options.max_users):
        detail = ", ".join(f"{kind} {now} (serving: {then})" for kind, (now, then) in shrunk.items())
        raise NotPublished(
            f"not published: {run.source} gives under half of the serving version's {detail}; "
            "a truncated file? Re-run with --allow-shrink if the data really shrank"
        )
    return Guarded(f"same source as {loaded.previous}" + (f"; shrink allowed: {sorted(shrunk)}" if shrunk else ""))


def features_stage(run: _Run, cleaned: Cleaned) -> Features:
    mean = features.global_mean_rating(cleaned.ratings)
    stats = features.movie_stats(cleaned.ratings, global_mean=mean)
    movie_records = features.with_movie_stats(cleaned.movies, stats).cache()
    users = features.user_activity(cleaned.ratings, cleaned.movies).cache()
    n_users = users.count()
    run.report.counts["users"] = n_users
    return Features(movie_records, users, n_users, mean)


def tune_stage(run: _Run, train: DataFrame, params: als.AlsParams) -> Tuned:
    implicit, rows = tune.tune_implicit(train, tune.grid(params, tune.IMPLICIT_GRID))
    explicit, _ = tune.tune_explicit(train, als.EXPLICIT_DEFAULTS)
    run.report.tuning = [{"params": r["params"].as_dict(), "validation_ndcg": r["ndcg"]} for r in rows]
    return Tuned(implicit, explicit, run.report.tuning)


def evaluate_stage(
    run: _Run, train: DataFrame, test: DataFrame, params: als.AlsParams, explicit: als.AlsParams
) -> Evaluated:
    held_out = als.fit_als(train, params)
    metrics = evaluate.ranking_report(held_out, train, test)
    metrics["explicit"] = evaluate.rating_errors(als.fit_biased_als(train, explicit), test)
    run.report.metrics = metrics
    check_quality(metrics, force=run.options.force)
    return Evaluated(metrics)


def check_quality(metrics: dict, *, force: bool = False) -> None:
    """A model that ranks worse than "most rated first" on held-out data is not worth serving."""
    model, popular = metrics["als"]["ndcg"], metrics["popularity"]["ndcg"]
    if model < popular and not force:
        raise NotPublished(
            f"not published: held-out NDCG@10 {model:.4f} is below the popularity baseline's {popular:.4f}; "
            "check the data (swapped columns?) or the parameters, or re-run with --force"
        )


def train_stage(run: _Run, cleaned: Cleaned, feats: Features, params: als.AlsParams) -> Trained:
    model = als.fit_als(cleaned.ratings, params)
    items = als.item_factors(model).cache()
    item_rows = items.collect()
    item_matrix = np.array([row["item_vector"] for row in item_rows], dtype=np.float64)
    users = als.user_factors(model)
    user_matrix = np.array([row["user_vector"] for row in users.collect()], dtype=np.float64)
    # From the collected factors, not one more Spark job each (the same numbers as Summarizer.mean).
    live = {"rating_mean": feats.rating_mean, "user_mean_vector": user_matrix.mean(axis=0).tolist()}
    return Trained(
        params,
        items,
        users,
        item_gram(item_matrix),
        live,
        user_gram(user_matrix),
        [row["movieId"] for row in item_rows],
        item_matrix,
    )


def vectors_stage(run: _Run, loaded: Loaded, cleaned: Cleaned, feats: Features, trained: Trained) -> Documents:
    version = run.report.version
    audience = als.audience_vectors(
        cleaned.ratings, trained.user_vectors, overall=np.array(trained.live["user_mean_vector"])
    )
    movie_full = (
        feats.movie_records.join(trained.items, "movieId", "left")
        .join(audience, "movieId", "left")
        .join(F.broadcast(als.embedding_2d(run.spark, trained.item_ids, trained.item_matrix)), "movieId", "left")
    )
    titles = export.title_fields(feats.movie_records)  # from the cached records, not the joins below
    movie_docs = export.movie_documents(movie_full, version, titles).cache()
    consent_rows = [(c["user_id"], bool(c["personalisation"])) for c in loaded.consents]
    served_vectors = consent.consented_vectors(
        trained.user_vectors,
        run.spark.createDataFrame(consent_rows, consent.CONSENTS_SCHEMA),
        default=run.config.consent_default,
    )
    user_docs = export.user_documents(feats.users.join(served_vectors, "userId", "left"), version).cache()
    rating_docs = export.rating_documents(cleaned.ratings, cleaned.movies)
    return Documents(movie_docs, user_docs, rating_docs, movie_docs.count(), user_docs.count())


def index_stage(run: _Run, docs: Documents, card: dict) -> Published:
    """Write a new version of every index; switch the aliases only if every document was accepted."""
    es, names, version = run.es, run.names, run.report.version
    bar = run.options.bar or (lambda kind: None)
    created = indices.create_version(es, names, version, dims=card["params"]["rank"])
    results = {}
    for kind, df in (("movies", docs.movies), ("users", docs.users), ("ratings", docs.ratings)):
        total = run.report.counts.get(kind)
        results[kind] = export.bulk_write(df, run.config.es, created[kind], progress=bar(kind), total=total)
        pause_point(f"index:{kind}")
    failed = {kind: r.failed for kind, r in results.items() if r.failed}
    if failed:
        samples = [e for r in results.values() for e in r.errors][:3]
        raise ExportFailed(
            f"version {version}: failed documents {failed}; aliases not switched, serving version unchanged. "
            f"First errors: {samples}"
        )
    written = {kind: r.ok for kind, r in results.items()}
    partitions = {kind: r.partitions for kind, r in results.items()}
    # Where the bulk export ran: the card says which master, how many executors, what each partition wrote.
    card["spark"] = {
        "master": run.spark.sparkContext.master,
        "executors": executor_count(run.spark),
        "bulk_partitions": {
            kind: [{"partition": p, "documents": n, "worker_pid": pid} for p, n, pid in parts]
            for kind, parts in partitions.items()
        },
    }
    indices.publish(es, names, version, written, card)  # the card, marked complete, before the switch
    added_carryover.mark_merged(es, names, run.merges)
    added_carryover.cold_start(run.config.es, names, version, added_carryover.fetch_added_movies(es, names))
    run.report.published = True
    run.report.spark = card["spark"]
    return Published(version, written, partitions)


def late_stage(run: _Run, loaded: Loaded, card: dict) -> Late:
    """Ratings and deletions made through the API while this run worked landed in the old version."""
    late = carryover.carry_over(
        run.es,
        run.config.es,
        run.names,
        from_version=loaded.previous,
        to_version=run.report.version,
        since=loaded.live_since,
        model=card_from_document(run.report.version, card),
        consent_default=run.config.consent_default,
    )
    return Late(late.found, len(late.users))


# ---- the model card --------------------------------------------------------------------------


def data_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def write_model_card(run: _Run, trained: Trained) -> dict:
    """The card goes to `runs/<version>/model_card.json` (without the Gram matrix) and, when indexing,
    to the models index (with it: the API's fold-in reads it from there)."""
    report, options = run.report, run.options
    card = {
        "model_version": report.version,
        "created_at": datetime.now(UTC).isoformat(),
        "dataset": run.source,
        "data_sha256": data_checksum(options.data),
        "params": trained.params.as_dict(),
        "params_reason": als.served_because(trained.params, tuned=options.tune),
        "tuning": report.tuning,
        "max_users": options.max_users,
        "metrics": report.metrics,
        "counts": report.counts,
        "cleaning": report.cleaning.counts,
        "timings_s": {name: round(secs, 2) for name, secs, _ in report.stages},
        "spark_master": run.config.spark_master,
        "spark_shuffle_partitions": int(run.spark.conf.get("spark.sql.shuffle.partitions")),
    }
    report.model_card_path = run.run_dir / "model_card.json"
    report.model_card_path.write_text(json.dumps(card, indent=2, default=str))
    grams = {"item_gram": trained.gram.tolist()}
    if trained.user_gram is not None:
        grams["user_gram"] = trained.user_gram.tolist()
    return {**card, **grams, "live": trained.live}
