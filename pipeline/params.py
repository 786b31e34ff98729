"""ALS hyper-parameters: no Spark import, so the CLI can show defaults without loading pyspark."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AlsParams:
    """Defaults: the implicit model's best common cell of the tuning study (benchmarks/tune_study.py,
    validation split carved from the training part only). Validation NDCG@10, this cell vs the best:
    ml-100k 0.2682 (best of 20), bundled ml-latest-small 0.2175 vs 0.2176; the old defaults (rank 24,
    reg 0.1, alpha 1) were below rank 32/reg 0.15/alpha 1 on both (0.2613, 0.2143)."""

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
