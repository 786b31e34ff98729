"""Hyper-parameter search on training data only; the test split is never looked at here."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import replace

from pyspark.sql import DataFrame

from movierec.pipeline import evaluate
from movierec.pipeline.als import AlsParams, fit_als, fit_biased_als

log = logging.getLogger(__name__)

IMPLICIT_GRID = {"rank": (16, 24, 32), "reg_param": (0.05, 0.1), "alpha": (0.5, 1.0), "max_iter": (10, 15)}
EXPLICIT_GRID = {"rank": (10, 16), "reg_param": (0.1, 0.15, 0.2)}


def grid(base: AlsParams, axes: dict[str, Iterable]) -> list[AlsParams]:
    keys = list(axes)
    return [replace(base, **dict(zip(keys, values, strict=True))) for values in itertools.product(*axes.values())]


def tune_implicit(
    train: DataFrame,
    candidates: list[AlsParams],
    *,
    per_user: bool = False,
    validation_fraction: float = 0.2,
    seed: int = 7,
    k: int = 10,
) -> tuple[AlsParams, list[dict]]:
    """Best NDCG@k on a validation split carved out of `train`; returns (best, one row per candidate)."""
    if per_user:
        fit_part, validation = evaluate.per_user_split(train, test_fraction=validation_fraction, seed=seed)
    else:
        fit_part, validation = evaluate.random_split(train, test_fraction=validation_fraction, seed=seed)
    rows = []
    for params in candidates:
        started = time.perf_counter()
        report = evaluate.ranking_report(fit_als(fit_part, params), fit_part, validation, k=k)
        rows.append({"params": params, "ndcg": report["als"]["ndcg"], "seconds": time.perf_counter() - started})
        log.info("tune %s: validation NDCG@%d %.4f", params, k, report["als"]["ndcg"])
    best = max(rows, key=lambda row: row["ndcg"])
    return best["params"], rows


def tune_explicit(
    train: DataFrame,
    base: AlsParams,
    axes: dict[str, Iterable] = EXPLICIT_GRID,
    *,
    validation_fraction: float = 0.2,
    seed: int = 7,
) -> tuple[AlsParams, list[dict]]:
    """Best validation RMSE of the biased explicit model. The biases are computed on the fit part
    only (Spark's TrainValidationSplit would compute them on the rows it then validates on)."""
    fit_part, validation = evaluate.random_split(train, test_fraction=validation_fraction, seed=seed)
    rows = []
    for params in grid(replace(base, implicit=False), axes):
        rmse = evaluate.rating_errors(fit_biased_als(fit_part, params), validation)["rmse"]
        rows.append({"params": params, "rmse": rmse})
        log.info("tune %s: validation RMSE %.4f", params, rmse)
    best = min(rows, key=lambda row: row["rmse"])
    return best["params"], rows
