"""Ranking metrics and exact top-k scoring with NumPy: pure functions, tested without Spark."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k_excluding(
    user_vectors: np.ndarray, item_vectors: np.ndarray, exclude: Sequence[np.ndarray], k: int, *, block: int = 1024
) -> np.ndarray:
    """Indices of the k highest-scoring items per user (inner product), never one in `exclude[u]`."""
    out = np.empty((len(user_vectors), k), dtype=np.int64)
    for start in range(0, len(user_vectors), block):
        scores = user_vectors[start : start + block] @ item_vectors.T
        for row, seen in enumerate(exclude[start : start + block]):
            if len(seen):
                scores[row, seen] = -np.inf
        top = np.argpartition(-scores, kth=min(k, scores.shape[1] - 1), axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + block] = np.take_along_axis(top, order, axis=1)
    return out


def ranking_metrics(recommended: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int) -> dict[str, float]:
    """Mean Precision@k, Recall@k, NDCG@k (binary gains) and MAP@k over users with relevant items."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision = recall = ndcg = ap = 0.0
    users = 0
    for recs, rel in zip(recommended, relevant, strict=True):
        if not rel:
            continue
        users += 1
        hits = np.array([item in rel for item in list(recs)[:k]], dtype=float)
        n_hits = hits.sum()
        precision += n_hits / k
        recall += n_hits / len(rel)
        ideal = discounts[: min(len(rel), k)].sum()
        ndcg += (hits * discounts[: len(hits)]).sum() / ideal
        if n_hits:
            cum_hits = np.cumsum(hits)
            ap += (hits * cum_hits / np.arange(1, len(hits) + 1)).sum() / min(len(rel), k)
    if users == 0:
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0, "users": 0}
    return {
        "precision": precision / users,
        "recall": recall / users,
        "ndcg": ndcg / users,
        "map": ap / users,
        "users": users,
    }
