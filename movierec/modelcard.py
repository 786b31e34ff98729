"""The model card: what a pipeline run trained and served, and the fold-in's view of it.

Pure (no Elasticsearch, no Spark): the pipeline writes the card, the store and the service read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelCard:
    """What the real-time fold-in needs of a served model."""

    version: str
    implicit: bool
    reg_param: float
    alpha: float
    gram: np.ndarray | None
    # The live updates' baselines (training time): the mean of every rating (damped averages) and of
    # every user vector (audience vectors). None on a card from before they were recorded.
    rating_mean: float | None = None
    user_mean: np.ndarray | None = None
    # XtX over the trained user vectors: the implicit item step (fold_in_item) for movies added after training.
    # None on cards from before it was recorded: such movies keep their content vector until the next run.
    user_gram: np.ndarray | None = None


def card_from_document(version: str, doc: dict) -> ModelCard:
    """The fold-in's view of a model card document (as stored in the models index)."""
    params = doc["params"]
    gram = np.array(doc["item_gram"]) if doc.get("item_gram") else None
    live = doc.get("live") or {}
    user_mean = np.array(live["user_mean_vector"]) if live.get("user_mean_vector") else None
    user_gram = np.array(doc["user_gram"]) if doc.get("user_gram") else None
    return ModelCard(
        version,
        params["implicit"],
        params["reg_param"],
        params["alpha"],
        gram,
        live.get("rating_mean"),
        user_mean,
        user_gram,
    )
