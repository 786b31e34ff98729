import numpy as np
import pytest

from movierec.pipeline.als import AlsParams, audience_vectors, embedding_2d, fit_als, item_factors, user_factors

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def checkerboard(spark, tmp_path_factory):
    """Even users like even items, odd users odd items: the right neighbours are known."""
    spark.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("ckpt")))
    rows = [(u, i, 5.0) for u in range(20) for i in range(20) if u % 2 == i % 2 and (u + i) % 3]
    return spark.createDataFrame(rows, "userId int, movieId int, rating double")


@pytest.fixture(scope="module")
def model(checkerboard):
    return fit_als(checkerboard, AlsParams(rank=4, reg_param=0.01, max_iter=10, implicit=True, alpha=10.0, seed=1))


def vectors(df, key, col):
    return {row[key]: np.array(row[col]) for row in df.collect()}


def test_nearest_item_has_the_same_parity(model):
    items = vectors(item_factors(model), "movieId", "item_vector")
    for item, vec in items.items():
        others = {j: v for j, v in items.items() if j != item}
        nearest = max(others, key=lambda j: vec @ others[j] / np.linalg.norm(others[j]))
        assert nearest % 2 == item % 2


def test_audience_vector_recommends_what_that_audience_likes(model, checkerboard):
    users = user_factors(model)
    audience = vectors(audience_vectors(checkerboard, users), "movieId", "audience_vector")
    items = vectors(item_factors(model), "movieId", "item_vector")
    for seed in (0, 1):
        scores = {j: audience[seed] @ v for j, v in items.items() if j != seed}
        top5 = sorted(scores, key=scores.get, reverse=True)[:5]
        assert all(j % 2 == seed % 2 for j in top5)


def test_embedding_2d_is_sparks_pca_projection_up_to_each_axis_sign(model, spark):
    """The driver-side projection gives what pyspark.ml's PCA gives (it replaced it: 4 jobs fewer)."""
    from pyspark.ml.feature import PCA
    from pyspark.ml.functions import array_to_vector, vector_to_array

    factors = vectors(item_factors(model), "movieId", "item_vector")
    ids = sorted(factors)
    rows = {
        r.movieId: (r.embedding_x, r.embedding_y)
        for r in embedding_2d(spark, ids, np.array([factors[i] for i in ids])).collect()
    }
    assert sorted(rows) == ids
    frame = item_factors(model).select("movieId", array_to_vector("item_vector").alias("v"))
    sparks = (
        PCA(k=2, inputCol="v", outputCol="p")
        .fit(frame)
        .transform(frame)
        .select("movieId", vector_to_array("p").alias("p"))
    )
    theirs = {r.movieId: r.p for r in sparks.collect()}
    ours = np.array([rows[i] for i in ids])
    reference = np.array([theirs[i] for i in ids])
    signs = np.sign((ours * reference).sum(axis=0))
    assert np.allclose(ours * signs, reference, atol=1e-4)
    assert np.ptp(ours, axis=0).min() > 0  # two real axes, not a degenerate projection


def test_fold_in_reproduces_sparks_user_vectors(model, checkerboard):
    """Spark's last step solves users given the final item factors: fold-in must agree."""
    from movierec.search.foldin import fold_in_user, item_gram

    items = vectors(item_factors(model), "movieId", "item_vector")
    users = vectors(user_factors(model), "userId", "user_vector")
    all_items = np.array(list(items.values()))
    for user in (0, 1, 7):
        rows = [r for r in checkerboard.collect() if r.userId == user]
        got = fold_in_user(
            np.array([items[r.movieId] for r in rows]),
            [r.rating for r in rows],
            reg_param=0.01,
            implicit=True,
            alpha=10.0,
            gram=item_gram(all_items),
        )
        assert np.allclose(got, users[user], atol=1e-3), user


def test_biased_als_predicts_the_baselines(spark):
    """Ratings that are pure user + item offsets: the biases alone explain them."""
    from movierec.pipeline.als import fit_biased_als
    from movierec.pipeline.evaluate import rating_errors

    rows = [(u, i, 3.0 + (0.5 if u < 10 else -0.5) + (1.0 if i < 10 else -1.0)) for u in range(20) for i in range(20)]
    df = spark.createDataFrame(rows, "userId int, movieId int, rating double")
    model = fit_biased_als(df, AlsParams(rank=2, reg_param=0.01, max_iter=5, implicit=False))
    assert rating_errors(model, df)["rmse"] < 0.15
