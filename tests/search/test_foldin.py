import numpy as np
import pytest

from movierec.search.foldin import fold_in_user, item_gram


def test_explicit_fold_in_solves_ridge_regression():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(30, 4))
    truth = np.array([1.0, -0.5, 0.25, 2.0])
    ratings = items @ truth
    got = fold_in_user(items, ratings, reg_param=1e-9, implicit=False)
    assert np.allclose(got, truth, atol=1e-6)


def test_implicit_fold_in_matches_the_normal_equations():
    rng = np.random.default_rng(1)
    all_items = rng.normal(size=(50, 3))
    rated = [3, 7, 11]
    ratings = np.array([5.0, 3.0, 4.0])
    alpha, lam = 2.0, 0.1
    y = all_items[rated]
    a = (
        all_items.T @ all_items
        + sum(alpha * r * np.outer(v, v) for v, r in zip(y, ratings, strict=True))
        + lam * 3 * np.eye(3)
    )
    b = sum((1 + alpha * r) * v for v, r in zip(y, ratings, strict=True))
    got = fold_in_user(y, ratings, reg_param=lam, implicit=True, alpha=alpha, gram=item_gram(all_items))
    assert np.allclose(got, np.linalg.solve(a, b))


def test_no_ratings_no_vector():
    assert fold_in_user(np.zeros((0, 3)), [], reg_param=0.1, implicit=False) is None


def test_implicit_needs_the_gram():
    with pytest.raises(ValueError, match="gram"):
        fold_in_user(np.ones((1, 2)), [4.0], reg_param=0.1, implicit=True)


def test_the_model_card_is_defined_once():
    from movierec import modelcard
    from movierec.search import ratings

    assert ratings.ModelCard is modelcard.ModelCard and ratings.card_from_document is modelcard.card_from_document
