"""The pipeline's entry module: load -> clean -> features -> train -> evaluate -> export -> index."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from elasticsearch import Elasticsearch
from pyspark.sql import SparkSession

from movierec.config import Settings
from movierec.errors import Failed
from movierec.pipeline import als, clean, consent, evaluate, export, features, tune
from movierec.pipeline.load import load_movielens
from movierec.search import carryover, indices
from movierec.search.foldin import item_gram
from movierec.search.ratings import card_from_document

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    data: Path
    params: als.AlsParams = field(default_factory=als.AlsParams)
    evaluate: bool = True
    tune: bool = False  # grid-search both models on the training split first
    max_users: int | None = None  # a slice of the data, for quick runs and tests
    index: bool = True
    bar: Callable[[str], Callable[[int, int | None], None] | None] | None = None  # progress per index


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
    pass


@contextmanager
def _stage(report: RunReport, name: str, progress):
    started = time.perf_counter()
    detail: list[str] = []
    progress(f"[{name}] ...")
    yield detail
    elapsed = time.perf_counter() - started
    text = "; ".join(detail)
    report.stages.append((name, elapsed, text))
    log.info("stage %s done in %.1fs %s", name, elapsed, text)
    progress(f"[{name}] {elapsed:.1f}s {text}")


def data_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def run_pipeline(
    spark: SparkSession, settings: Settings, options: RunOptions, es: Elasticsearch | None = None, progress=print
) -> RunReport:
    report = RunReport(version=indices.new_version())
    names = indices.IndexNames(settings.index_prefix)
    run_dir = settings.runs_dir / report.version
    run_dir.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(run_dir / "checkpoints"))

    with _stage(report, "load", progress) as detail:
        raw = load_movielens(spark, options.data)
        detail.append(f"layout {raw.layout} from {options.data}")
        # Ratings that came in through the API exist only in Elasticsearch: train on them and keep them.
        live_since = int(time.time())
        indexing = es is not None and options.index
        previous = indices.serving_version(es, names) if indexing else None
        live = carryover.fetch_live_ratings(es, names.concrete("ratings", previous)) if previous else []
        deletions = carryover.fetch_deletions(es, names) if indexing else []
        consents = carryover.fetch_consents(es, names) if indexing else []
        if live or deletions:
            (run_dir / "live_ratings.json").write_text(json.dumps({"ratings": live, "deletions": deletions}))
            detail.append(f"{len(live)} API ratings from version {previous}, {len(deletions)} API deletions")

    with _stage(report, "clean", progress) as detail:
        movies, rejected_movies = clean.clean_movies(raw.movies, raw.links, report.cleaning)
        ratings, rejected_ratings = clean.clean_ratings(raw.ratings, report.cleaning)
        if options.max_users:
            keep = ratings.select("userId").distinct().orderBy("userId").limit(options.max_users)
            ratings = ratings.join(keep, "userId", "left_semi")
        # After the slice: a quick run must not drop what users said through the API.
        live_rows = [(r["user_id"], r["movie_id"], float(r["rating"]), int(r["date"])) for r in live]
        ratings = clean.merge_live_ratings(
            ratings, spark.createDataFrame(live_rows, clean.LIVE_RATINGS_SCHEMA), report.cleaning
        )
        if deletions:  # otherwise skip a pass over every rating
            deleted_rows = [(d["user_id"], d.get("movie_id"), int(d["date"])) for d in deletions]
            ratings = clean.drop_deleted_ratings(
                ratings, spark.createDataFrame(deleted_rows, clean.DELETIONS_SCHEMA), report.cleaning
            )
        ratings = clean.drop_unknown_movies(ratings, movies, report.cleaning)
        ratings = ratings.cache()
        rejected = rejected_movies.unionByName(rejected_ratings)
        n_rejected = rejected.count()
        if n_rejected:
            rejected.coalesce(1).write.mode("overwrite").json(str(run_dir / "rejected"))
        report.counts.update(movies=movies.count(), ratings=ratings.count(), rejected=n_rejected)
        detail.append(f"{report.counts['movies']} movies, {report.counts['ratings']} ratings, {n_rejected} rejected")

    with _stage(report, "features", progress) as detail:
        movie_records = features.with_movie_stats(movies, features.movie_stats(ratings)).cache()
        users = features.user_activity(ratings, movies).cache()
        report.counts["users"] = users.count()
        detail.append(f"{report.counts['users']} users")

    params, explicit = options.params, als.EXPLICIT_DEFAULTS
    if options.evaluate or options.tune:
        train, test = evaluate.random_split(ratings)
    if options.tune:
        with _stage(report, "tune", progress) as detail:
            params, rows = tune.tune_implicit(train, tune.grid(params, tune.IMPLICIT_GRID))
            explicit, _ = tune.tune_explicit(train, explicit)
            report.tuning = [{"params": r["params"].as_dict(), "validation_ndcg": r["ndcg"]} for r in rows]
            detail.append(
                f"implicit {params.rank}/{params.reg_param}/{params.alpha}, explicit {explicit.rank}/{explicit.reg_param}"
            )
    if options.evaluate:
        with _stage(report, "evaluate", progress) as detail:
            held_out = als.fit_als(train, params)
            report.metrics = evaluate.ranking_report(held_out, train, test)
            report.metrics["explicit"] = evaluate.rating_errors(als.fit_biased_als(train, explicit), test)
            detail.append(
                f"NDCG@10 {report.metrics['als']['ndcg']:.4f} (popularity {report.metrics['popularity']['ndcg']:.4f}), "
                f"explicit RMSE {report.metrics['explicit']['rmse']:.4f}"
            )

    with _stage(report, "train", progress) as detail:
        model = als.fit_als(ratings, params)
        items = als.item_factors(model).cache()
        user_vectors = als.user_factors(model)
        # The real-time fold-in needs YtY of exactly these factors.
        item_matrix = np.array([row["item_vector"] for row in items.collect()], dtype=np.float64)
        gram = item_gram(item_matrix)
        detail.append(f"rank {params.rank}, {len(item_matrix)} item vectors")

    with _stage(report, "vectors", progress) as detail:
        audience = als.audience_vectors(ratings, user_vectors)
        movie_full = (
            movie_records.join(items, "movieId", "left")
            .join(audience, "movieId", "left")
            .join(als.embedding_2d(items), "movieId", "left")
        )
        movie_docs = export.movie_documents(movie_full, report.version).cache()
        consent_rows = [(c["user_id"], bool(c["personalisation"])) for c in consents]
        served_vectors = consent.consented_vectors(
            user_vectors, spark.createDataFrame(consent_rows, consent.CONSENTS_SCHEMA), default=settings.consent_default
        )
        user_docs = export.user_documents(users.join(served_vectors, "userId", "left"), report.version).cache()
        rating_docs = export.rating_documents(ratings, movies)
        detail.append(f"{movie_docs.count()} movie docs, {user_docs.count()} user docs")

    card = _model_card(report, options, settings, params)
    card["item_gram"] = gram.tolist()
    report.model_card_path = run_dir / "model_card.json"
    report.model_card_path.write_text(
        json.dumps({k: v for k, v in card.items() if k != "item_gram"}, indent=2, default=str)
    )

    if options.index and es is not None:
        with _stage(report, "index", progress) as detail:
            _index(
                es, settings, names, report, movie_docs, user_docs, rating_docs, params.rank, card, detail, options.bar
            )
        if previous:
            with _stage(report, "late ratings", progress) as detail:  # and late deletions
                model = card_from_document(report.version, card)
                late = carryover.carry_over(
                    es,
                    settings.es_url,
                    names,
                    from_version=previous,
                    to_version=report.version,
                    since=live_since,
                    model=model,
                    consent_default=settings.consent_default,
                )
                detail.append(
                    f"{late.found} API ratings arrived during the run; {len(late.users)} users updated and refolded"
                )
    return report


def _index(es, settings, names, report, movie_docs, user_docs, rating_docs, dims, card, detail, bar=None) -> None:
    bar = bar or (lambda kind: None)
    created = indices.create_version(es, names, report.version, dims=dims)
    results = {}
    for kind, df in (("movies", movie_docs), ("users", user_docs), ("ratings", rating_docs)):
        total = report.counts.get(kind)
        results[kind] = export.bulk_write(df, settings.es_url, created[kind], progress=bar(kind), total=total)
    failed = {kind: r.failed for kind, r in results.items() if r.failed}
    total = sum(r.ok for r in results.values())
    detail.append(", ".join(f"{kind} {r.ok}" for kind, r in results.items()))
    if failed:
        samples = [e for r in results.values() for e in r.errors][:3]
        raise ExportFailed(
            f"version {report.version}: failed documents {failed}; aliases not switched, serving version unchanged. "
            f"First errors: {samples}"
        )
    indices.publish(es, names, report.version, {kind: r.ok for kind, r in results.items()})
    indices.ensure_shared_indices(es, names)
    es.index(index=names.models, id=report.version, document=card, refresh=True)
    report.published = True
    detail.append(f"{total} docs, aliases -> {report.version}")


def _model_card(report: RunReport, options: RunOptions, settings: Settings, params: als.AlsParams) -> dict:
    return {
        "model_version": report.version,
        "created_at": datetime.now(UTC).isoformat(),
        "dataset": str(options.data),
        "data_sha256": data_checksum(options.data),
        "params": params.as_dict(),
        "tuning": report.tuning,
        "max_users": options.max_users,
        "metrics": report.metrics,
        "counts": report.counts,
        "cleaning": report.cleaning.counts,
        "timings_s": {name: round(secs, 2) for name, secs, _ in report.stages},
        "spark_master": settings.spark_master,
    }
