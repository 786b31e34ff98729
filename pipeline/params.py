"""ALS hyper-parameters: no Spark import, so the CLI can show defaults without loading pyspark."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AlsParams:
    """Defaults: the implicit model tuned on ml-latest-small (README, benchmarks/quality.py)."""

    rank: int = 24
    reg_param: float = 0.1
    max_iter: int = 15
    implicit: bool = True
    alpha: float = 1.0
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


# The rating-prediction model (RMSE), tuned on ml-latest-small; the served model is implicit.
EXPLICIT_DEFAULTS = AlsParams(rank=10, reg_param=0.15, max_iter=20, implicit=False)
