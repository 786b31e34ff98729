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


def test_item_fold_in_recovers_a_checkerboard_item():
    # Two user groups with orthogonal tastes; an item liked by exactly the first group gets (5, 0).
    from movierec.search.foldin import fold_in_item

    users = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    ratings = [5.0] * 4 + [0.0] * 4
    got = fold_in_item(users, ratings, reg_param=1e-9, implicit=False)
    assert np.allclose(got, [5.0, 0.0], atol=1e-6)


def test_item_fold_in_is_the_implicit_item_step_with_the_user_gram():
    from movierec.search.foldin import fold_in_item, user_gram

    rng = np.random.default_rng(2)
    all_users = rng.normal(size=(40, 3))
    raters, ratings, alpha, lam = [0, 5, 9, 20], np.array([4.0, 5.0, 3.5, 4.5]), 1.5, 0.05
    x = all_users[raters]
    a = all_users.T @ all_users + (x.T * (alpha * ratings)) @ x + lam * len(raters) * np.eye(3)
    b = (1 + alpha * ratings) @ x
    got = fold_in_item(x, ratings, reg_param=lam, implicit=True, alpha=alpha, gram=user_gram(all_users))
    assert np.allclose(got, np.linalg.solve(a, b))
    with pytest.raises(ValueError, match="gram"):
        fold_in_item(x, ratings, reg_param=lam, implicit=True)


@pytest.mark.spark
@pytest.mark.parametrize("implicit", [True, False])
def test_item_fold_in_reproduces_sparks_item_step(spark, implicit):
    """Spark's iteration is an item step, then a user step. So the item factors of a fit with maxIter=k+1 are
    the item step against the user factors of the same fit (same seed) with maxIter=k: fold_in_item gives them."""
    from pyspark.ml.recommendation import ALS

    from movierec.search.foldin import fold_in_item, user_gram

    rng = np.random.default_rng(3)
    rows = [(u, i, float(rng.integers(1, 11)) / 2) for u in range(30) for i in range(12) if rng.random() < 0.5]
    df = spark.createDataFrame(rows, "userId int, movieId int, rating float")
    lam, alpha = 0.1, 2.0

    def fit(iterations):
        als = ALS(rank=4, maxIter=iterations, regParam=lam, alpha=alpha, implicitPrefs=implicit, seed=1)
        return als.setUserCol("userId").setItemCol("movieId").fit(df)

    users = {r["id"]: np.array(r["features"]) for r in fit(5).userFactors.collect()}
    items = {r["id"]: np.array(r["features"]) for r in fit(6).itemFactors.collect()}
    gram = user_gram(np.array(list(users.values())))
    for item in (0, 5, 11):
        raters = [(u, r) for u, i, r in rows if i == item]
        x = np.array([users[u] for u, _ in raters])
        got = fold_in_item(x, [r for _, r in raters], reg_param=lam, implicit=implicit, alpha=alpha, gram=gram)
        assert np.allclose(got, items[item], atol=1e-4), (item, got, items[item])


def test_gram_drift_bounds_every_users_change():
    # Random users' systems: the exact fold-in (G + S) differs from the served one (G) by at most user_bound.
    from movierec.search.foldin import gram_drift

    rng = np.random.default_rng(4)
    items, added, lam, alpha = rng.normal(size=(200, 5)), rng.normal(size=(3, 5)) * 2, 0.1, 0.5
    gram = item_gram(items)
    drift = gram_drift(gram, added, reg_param=lam)
    s = added.T @ added
    assert drift.items == 3
    assert drift.relative_spectral == pytest.approx(np.linalg.norm(s, 2) / np.linalg.norm(gram, 2))
    assert drift.relative_frobenius == pytest.approx(np.linalg.norm(s) / np.linalg.norm(gram))
    worst = 0.0
    for _ in range(200):
        rated = rng.choice(200, size=int(rng.integers(1, 30)), replace=False)
        ratings = rng.integers(1, 11, size=len(rated)) / 2
        served = fold_in_user(items[rated], ratings, reg_param=lam, implicit=True, alpha=alpha, gram=gram)
        exact = fold_in_user(items[rated], ratings, reg_param=lam, implicit=True, alpha=alpha, gram=gram + s)
        worst = max(worst, np.linalg.norm(exact - served) / np.linalg.norm(served))
    assert 0 < worst <= drift.user_bound
    assert gram_drift(gram, np.zeros((0, 5)), reg_param=lam).user_bound == 0.0
