"""Fold one user (or one item) into a trained ALS model: the least-squares ALS step, without retraining.

Mirrors Spark's ALS normal equations, so a folded-in vector is the one the next ALS user
step would produce for the same ratings and item factors:
- implicit: A = YtY + sum(alpha*|r| * y y^T) + lambda*n*I,  b = sum((1 + alpha*|r|) * y) over r > 0
- explicit: A = sum(y y^T) + lambda*n*I,                    b = sum(r * y)
with lambda scaled by the user's number of ratings n (ALS-WR, as Spark does).

The item step is the same solve with the roles swapped (Spark alternates the two): an item's vector
from the vectors X of the users who rated it, with XtX (every user's) as the implicit baseline.
`fold_in_item` gives a movie added after training its vector from its raters (search/added_movies.py).

`gram_drift` says how far the served YtY is from the one that also counts such movies' vectors
(the user fold-in keeps the trained YtY until the next run), and bounds what that does to a user's vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def item_gram(item_vectors: np.ndarray) -> np.ndarray:
    """YtY over every item: the implicit model's baseline that each user's solve starts from."""
    return item_vectors.T @ item_vectors


def user_gram(user_vectors: np.ndarray) -> np.ndarray:
    """XtX over every user: the baseline of the implicit item step (`fold_in_item`)."""
    return user_vectors.T @ user_vectors


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
    return _als_step(item_vectors, ratings, reg_param=reg_param, implicit=implicit, alpha=alpha, gram=gram)


def fold_in_item(
    user_vectors: np.ndarray,
    ratings: Sequence[float],
    *,
    reg_param: float,
    implicit: bool,
    alpha: float = 1.0,
    gram: np.ndarray | None = None,
) -> np.ndarray | None:
    """The item's factor vector from the factors of the users who rated it (`gram`: the users' XtX for the
    implicit model); None without ratings. Spark's item step for one item, the user vectors held fixed."""
    return _als_step(user_vectors, ratings, reg_param=reg_param, implicit=implicit, alpha=alpha, gram=gram)


def _als_step(
    fixed: np.ndarray,
    ratings: Sequence[float],
    *,
    reg_param: float,
    implicit: bool,
    alpha: float,
    gram: np.ndarray | None,
) -> np.ndarray | None:
    """One row's least-squares solve against the fixed side's factors (`fixed`, one row per rating)."""
    y = np.asarray(fixed, dtype=np.float64)
    r = np.asarray(ratings, dtype=np.float64)
    if len(r) == 0:
        return None
    rank = y.shape[1]
    if implicit:
        if gram is None:
            raise ValueError("the implicit model needs the gram matrix of the fixed side (YtY or XtX)")
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


@dataclass(frozen=True)
class GramDrift:
    """How far the served item Gram G is from G + S, S = sum(y y^T) over item vectors it lacks."""

    items: int  # item vectors missing from G (movies added after training that have a fold-in vector)
    relative_spectral: float  # ||S||_2 / ||G||_2
    relative_frobenius: float  # ||S||_F / ||G||_F
    user_bound: float  # no user's folded-in vector moves by more than this fraction of its norm (see gram_drift)

    def as_dict(self) -> dict:
        return {
            "items": self.items,
            "relative_spectral": self.relative_spectral,
            "relative_frobenius": self.relative_frobenius,
            "user_bound": self.user_bound,
        }


def gram_drift(gram: np.ndarray, missing: np.ndarray, *, reg_param: float) -> GramDrift:
    """The drift of the implicit user fold-in's baseline G when the item vectors `missing` are left out of it.

    With A = G + C + lambda*n*I the user's system (C >= 0 their own confidence term, n >= 1) and x = A^-1 b,
    the exact vector is x' = (A + S)^-1 b, so x - x' = (A + S)^-1 S x and
    ||x - x'|| / ||x|| <= ||S||_2 / lambda_min(A + S) <= ||S||_2 / (lambda_min(G + S) + lambda):
    a bound for every user at once, whatever they rated (`user_bound`).
    """
    g = np.asarray(gram, dtype=np.float64)
    y = np.asarray(missing, dtype=np.float64).reshape(-1, g.shape[0])
    s = y.T @ y
    if len(y) == 0:
        return GramDrift(0, 0.0, 0.0, 0.0)
    spectral = float(np.linalg.norm(s, 2))
    floor = float(np.linalg.eigvalsh(g + s)[0]) + reg_param
    return GramDrift(
        len(y),
        spectral / float(np.linalg.norm(g, 2)),
        float(np.linalg.norm(s, "fro")) / float(np.linalg.norm(g, "fro")),
        spectral / floor,
    )
