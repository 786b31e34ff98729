"""The pipeline: load -> clean -> features -> (tune) -> (evaluate) -> train -> vectors -> index -> late ratings.

`run_pipeline` is a list of stage calls. Each stage is a function from the results before it to a
small typed result, timed and logged by one wrapper (`_Run.stage`); nothing is passed by mutation.
The pipeline takes plain values (`PipelineConfig`), never the process-wide `Settings`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from elasticsearch import Elasticsearch
from pyspark.sql import DataFrame, SparkSession

from movierec.errors import Failed
from movierec.modelcard import card_from_document
from movierec.pipeline import als, clean, consent, evaluate, export, features, tune
from movierec.pipeline.load import RawData, load_movielens
from movierec.search import carryover, indices
from movierec.search.foldin import item_gram

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
# Per index kind, a progress callback (done, total) or None.
BarFactory = Callable[[str], Callable[[int, int | None], None] | None]
T = TypeVar("T")


@dataclass(frozen=True)
class PipelineConfig:
    """What the pipeline needs to know about where it runs; plain values."""

    es_url: str
    runs_dir: Path
    index_prefix: str = "movierec-"
    consent_default: bool = True
    spark_master: str = "local[*]"

    @classmethod
    def of(cls, source: Any) -> PipelineConfig:
        return cls(
            es_url=source.es_url,
            runs_dir=Path(source.runs_dir),
            index_prefix=source.index_prefix,
            consent_default=source.consent_default,
            spark_master=source.spark_master,
        )


@dataclass
class RunOptions:
    data: Path
    params: als.AlsParams = field(default_factory=als.AlsParams)
    evaluate: bool = True
    tune: bool = False  # grid-search both models on the training split first
    max_users: int | None = None  # a slice of the data, for quick runs and tests
    index: bool = True
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

    def table(self) -> str:
        width = max((len(name) for name, _, _ in self.stages), default=5)
        lines = [f"{'stage':<{width}}  {'seconds':>8}  detail"]
        lines += [f"{name:<{width}}  {secs:>8.1f}  {detail}" for name, secs, detail in self.stages]
        lines.append(f"{'total':<{width}}  {sum(s for _, s, _ in self.stages):>8.1f}")
        return "\n".join(lines)


class ExportFailed(Failed):
    """Some documents were refused by Elasticsearch; the aliases were not switched."""


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

    def detail(self) -> str:
        text = f"layout {self.raw.layout} from {self.source}"
        if self.live or self.deletions:
            text += f"; {len(self.live)} API ratings from version {self.previous}, {len(self.deletions)} API deletions"
        return text


@dataclass
class Cleaned:
    movies: DataFrame
    ratings: DataFrame  # cached
    counts: dict[str, int]

    def detail(self) -> str:
        c = self.counts
        return f"{c['movies']} movies, {c['ratings']} ratings, {c['rejected']} rejected"


@dataclass
class Features:
    movie_records: DataFrame
    users: DataFrame
    n_users: int

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

    @property
    def indexing(self) -> bool:
        return self.es is not None and self.options.index

    def stage(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one stage: log its start, time it, record and print its one-line detail."""
        self.progress(f"[{name}] ...")
        started = time.perf_counter()
        result = fn(self, *args)
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
    run_dir = config.runs_dir / report.version
    run_dir.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(run_dir / "checkpoints"))
    run = _Run(spark, config, options, es, progress, report, indices.IndexNames(config.index_prefix), run_dir)

    loaded = run.stage("load", load_stage)
    cleaned = run.stage("clean", clean_stage, loaded)
    feats = run.stage("features", features_stage, cleaned)
    params, explicit = options.params, als.EXPLICIT_DEFAULTS
    if options.evaluate or options.tune:
        train, test = evaluate.random_split(cleaned.ratings)
        if options.tune:
            tuned = run.stage("tune", tune_stage, train, params)
            params, explicit = tuned.implicit, tuned.explicit
        if options.evaluate:
            run.stage("evaluate", evaluate_stage, train, test, params, explicit)
    trained = run.stage("train", train_stage, cleaned, params)
    docs = run.stage("vectors", vectors_stage, loaded, cleaned, feats, trained)
    card = write_model_card(run, trained)
    if run.indexing:
        run.stage("index", index_stage, docs, card)
        if loaded.previous:
            run.stage("late ratings", late_stage, loaded, card)  # and late deletions
    return report


# ---- the stages ------------------------------------------------------------------------------


def load_stage(run: _Run) -> Loaded:
    raw = load_movielens(run.spark, run.options.data)
    # Ratings that came in through the API exist only in Elasticsearch: train on them and keep them.
    live_since = int(time.time())
    previous = indices.serving_version(run.es, run.names) if run.indexing else None
    live = carryover.fetch_live_ratings(run.es, run.names.concrete("ratings", previous)) if previous else []
    deletions = carryover.fetch_deletions(run.es, run.names) if run.indexing else []
    consents = carryover.fetch_consents(run.es, run.names) if run.indexing else []
    if live or deletions:
        (run.run_dir / "live_ratings.json").write_text(json.dumps({"ratings": live, "deletions": deletions}))
    return Loaded(run.options.data, raw, previous, live, deletions, consents, live_since)


def clean_stage(run: _Run, loaded: Loaded) -> Cleaned:
    report, spark = run.report, run.spark
    movies, rejected_movies = clean.clean_movies(loaded.raw.movies, loaded.raw.links, report.cleaning)
    ratings, rejected_ratings = clean.clean_ratings(loaded.raw.ratings, report.cleaning)
    if run.options.max_users:
        keep = ratings.select("userId").distinct().orderBy("userId").limit(run.options.max_users)
        ratings = ratings.join(keep, "userId", "left_semi")
    # After the slice: a quick run must not drop what users said through the API.
    live_rows = [(r["user_id"], r["movie_id"], float(r["rating"]), int(r["date"])) for r in loaded.live]
    ratings = clean.merge_live_ratings(
        ratings, spark.createDataFrame(live_rows, clean.LIVE_RATINGS_SCHEMA), report.cleaning
    )
    if loaded.deletions:  # otherwise skip a pass over every rating
        deleted_rows = [(d["user_id"], d.get("movie_id"), int(d["date"])) for d in loaded.deletions]
        ratings = clean.drop_deleted_ratings(
            ratings, spark.createDataFrame(deleted_rows, clean.DELETIONS_SCHEMA), report.cleaning
        )
    ratings = clean.drop_unknown_movies(ratings, movies, report.cleaning).cache()
    rejected = rejected_movies.unionByName(rejected_ratings)
    n_rejected = rejected.count()
    if n_rejected:
        rejected.coalesce(1).write.mode("overwrite").json(str(run.run_dir / "rejected"))
    counts = {"movies": movies.count(), "ratings": ratings.count(), "rejected": n_rejected}
    report.counts.update(counts)
    return Cleaned(movies, ratings, counts)


def features_stage(run: _Run, cleaned: Cleaned) -> Features:
    movie_records = features.with_movie_stats(cleaned.movies, features.movie_stats(cleaned.ratings)).cache()
    users = features.user_activity(cleaned.ratings, cleaned.movies).cache()
    n_users = users.count()
    run.report.counts["users"] = n_users
    return Features(movie_records, users, n_users)


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
    return Evaluated(metrics)


def train_stage(run: _Run, cleaned: Cleaned, params: als.AlsParams) -> Trained:
    model = als.fit_als(cleaned.ratings, params)
    items = als.item_factors(model).cache()
    item_matrix = np.array([row["item_vector"] for row in items.collect()], dtype=np.float64)
    return Trained(params, items, als.user_factors(model), item_gram(item_matrix))


def vectors_stage(run: _Run, loaded: Loaded, cleaned: Cleaned, feats: Features, trained: Trained) -> Documents:
    version = run.report.version
    audience = als.audience_vectors(cleaned.ratings, trained.user_vectors)
    movie_full = (
        feats.movie_records.join(trained.items, "movieId", "left")
        .join(audience, "movieId", "left")
        .join(als.embedding_2d(trained.items), "movieId", "left")
    )
    movie_docs = export.movie_documents(movie_full, version).cache()
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
        results[kind] = export.bulk_write(df, run.config.es_url, created[kind], progress=bar(kind), total=total)
    failed = {kind: r.failed for kind, r in results.items() if r.failed}
    if failed:
        samples = [e for r in results.values() for e in r.errors][:3]
        raise ExportFailed(
            f"version {version}: failed documents {failed}; aliases not switched, serving version unchanged. "
            f"First errors: {samples}"
        )
    written = {kind: r.ok for kind, r in results.items()}
    indices.publish(es, names, version, written)
    indices.ensure_shared_indices(es, names)
    es.index(index=names.models, id=version, document=card, refresh=True)
    run.report.published = True
    return Published(version, written)


def late_stage(run: _Run, loaded: Loaded, card: dict) -> Late:
    """Ratings and deletions made through the API while this run worked landed in the old version."""
    late = carryover.carry_over(
        run.es,
        run.config.es_url,
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
        "dataset": str(options.data),
        "data_sha256": data_checksum(options.data),
        "params": trained.params.as_dict(),
        "tuning": report.tuning,
        "max_users": options.max_users,
        "metrics": report.metrics,
        "counts": report.counts,
        "cleaning": report.cleaning.counts,
        "timings_s": {name: round(secs, 2) for name, secs, _ in report.stages},
        "spark_master": run.config.spark_master,
    }
    report.model_card_path = run.run_dir / "model_card.json"
    report.model_card_path.write_text(json.dumps(card, indent=2, default=str))
    return {**card, "item_gram": trained.gram.tolist()}
