import math

import numpy as np
import pytest

from movierec.pipeline.metrics import ranking_metrics, top_k_excluding


def test_perfect_ranking_scores_one():
    m = ranking_metrics([[1, 2, 3]], [{1, 2, 3}], k=3)
    assert m["precision"] == m["recall"] == m["ndcg"] == m["map"] == 1.0


def test_known_values():
    # One hit at rank 2 of k=3, two relevant items.
    m = ranking_metrics([[9, 1, 8]], [{1, 2}], k=3)
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 2)
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg"] == pytest.approx((1 / math.log2(3)) / ideal)
    assert m["map"] == pytest.approx((1 / 2) / 2)


def test_users_without_relevant_items_are_skipped():
    m = ranking_metrics([[1], [2]], [set(), {2}], k=1)
    assert m["users"] == 1 and m["precision"] == 1.0


def test_top_k_excludes_seen_items_and_orders_by_score():
    users = np.array([[1.0, 0.0], [0.0, 1.0]])
    items = np.array([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    top = top_k_excluding(users, items, [np.array([0]), np.array([], dtype=np.int64)], k=2)
    assert top[0].tolist() == [1, 2]
    assert top[1][0] == 3
