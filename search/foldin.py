"""Fold one user into a trained ALS model: the least-squares user step, without retraining.

Mirrors Spark's ALS normal equations, so a folded-in vector is the one the next ALS user
step would produce for the same ratings and item factors:
- implicit: A = YtY + sum(alpha*|r| * y y^T) + lambda*n*I,  b = sum((1 + alpha*|r|) * y) over r > 0
- explicit: A = sum(y y^T) + lambda*n*I,                    b = sum(r * y)
with lambda scaled by the user's number of ratings n (ALS-WR, as Spark does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def item_gram(item_vectors: np.ndarray) -> np.ndarray:
    """YtY over every item: the implicit model's baseline that each user's solve starts from."""
    return item_vectors.T @ item_vectors


def fold_in_user(
    item_vectors: np.ndarray,
    ratings: Sequence[float],
    *,
    reg_param: float,
    implicit: bool,
    alpha: float = 1.0,
    gram: np.ndarray | None = None,
) -> np.ndarray | None:
    """The user's factor vector from the factors of the items they rated; None without ratings."""
    y = np.asarray(item_vectors, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    if len(r) == 0:
        return None
    rank = y.shape[1]
    if implicit:
        if gram is None:
            raise ValueError("the implicit model needs the item gram matrix YtY")
        confidence_minus_one = alpha * np.abs(r)
        a = np.asarray(gram, dtype=np.float64) + (y.T * confidence_minus_one) @ y
        b = ((r > 0) * (1.0 + confidence_minus_one)) @ y
        n = int((r > 0).sum())
    else:
        a = y.T @ y
        b = r @ y
        n = len(r)
    a += reg_param * max(n, 1) * np.eye(rank)
    return np.linalg.solve(a, b)
