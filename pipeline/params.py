"""ALS hyper-parameters: no Spark import, so the CLI can show defaults without loading pyspark."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AlsParams:
    """Defaults: the implicit model's best common cell of the tuning study (benchmarks/tune_study.py,
    validation split carved from the training part only). Validation NDCG@10, this cell vs the best:
    ml-100k 0.2682 (best of 20), bundled ml-latest-small 0.2175 vs 0.2176 (README "Model quality").
    The old defaults (rank 24, reg 0.1, alpha 1) served NDCG@10 0.467 on ml-100k through the API,
    these 0.4958 (benchmarks/quality.py --served)."""

    rank: int = 32
    reg_param: float = 0.15
    max_iter: int = 15
    implicit: bool = True
    alpha: float = 0.25
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


# The rating-prediction model (RMSE), tuned on ml-latest-small; the served model is implicit.
EXPLICIT_DEFAULTS = AlsParams(rank=10, reg_param=0.15, max_iter=20, implicit=False)


def served_because(params: AlsParams, *, tuned: bool) -> str:
    """The model card's one-line reason for the served parameters."""
    if tuned:
        return "tuned: best validation NDCG@10 of pipeline/tune.py's grid on a split of the training data"
    if params == AlsParams(seed=params.seed):
        return (
            "defaults: best common cell of the tuning study on ml-100k and ml-latest-small "
            "(benchmarks/tune_study.py; ml-100k NDCG@10 0.4958 through the API, README Model quality)"
        )
    return "set on the command line"
