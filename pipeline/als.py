"""ALS training (pyspark.ml) and the vectors the search engine serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.ml.feature import PCA
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.ml.stat import Summarizer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# "Liked" for the audience vector: the users who rated the movie at least this high.
LIKED_MIN_RATING = 4.0


@dataclass(frozen=True)
class AlsParams:
    rank: int = 32
    reg_param: float = 0.1
    max_iter: int = 10
    implicit: bool = True
    alpha: float = 10.0
    seed: int = 42

    def as_dict(self) -> dict:
        return asdict(self)


def fit_als(ratings: DataFrame, params: AlsParams) -> ALSModel:
    als = ALS(
        userCol="userId",
        itemCol="movieId",
        ratingCol="rating",
        rank=params.rank,
        regParam=params.reg_param,
        maxIter=params.max_iter,
        implicitPrefs=params.implicit,
        alpha=params.alpha,
        seed=params.seed,
        coldStartStrategy="drop",
        # Long ALS lineages overflow the stack without checkpoints (needs a checkpoint dir).
        checkpointInterval=5,
    )
    return als.fit(ratings)


def item_factors(model: ALSModel) -> DataFrame:
    return model.itemFactors.select(F.col("id").alias("movieId"), F.col("features").alias("item_vector"))


def user_factors(model: ALSModel) -> DataFrame:
    return model.userFactors.select(F.col("id").alias("userId"), F.col("features").alias("user_vector"))


def audience_vectors(ratings: DataFrame, users: DataFrame, *, min_rating: float = LIKED_MIN_RATING) -> DataFrame:
    """movieId, audience_vector: the mean factor vector of the users who liked the movie.

    Scoring items against it by inner product ranks what that audience would rate highly:
    "people who liked this also liked".
    """
    liked = ratings.where(F.col("rating") >= min_rating).join(users, "userId")
    return liked.groupBy("movieId").agg(
        vector_to_array(Summarizer.mean(array_to_vector("user_vector"))).cast("array<float>").alias("audience_vector"),
        F.count("*").alias("audience_size"),
    )


def embedding_2d(items: DataFrame) -> DataFrame:
    """movieId, embedding_x, embedding_y: a PCA projection of the item factors for the Kibana map."""
    vectors = items.select("movieId", array_to_vector("item_vector").alias("v"))
    projected = PCA(k=2, inputCol="v", outputCol="p").fit(vectors).transform(vectors)
    xy = vector_to_array("p")
    return projected.select("movieId", xy[0].alias("embedding_x"), xy[1].alias("embedding_y"))
