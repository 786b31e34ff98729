"""Per-user and per-movie features, merged into the movie records."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from movierec.search.domain import DAMPING  # one damping for the pipeline and the live statistics

ACTIVITY_BUCKETS = ((20, "light"), (100, "regular"), (500, "heavy"))


def global_mean_rating(ratings: DataFrame) -> float:
    """The mean of every rating: what a movie's damped average starts from (also in the model card)."""
    return ratings.agg(F.avg("rating")).first()[0] or 0.0


def movie_stats(ratings: DataFrame, *, damping: float = DAMPING, global_mean: float | None = None) -> DataFrame:
    """movieId, num_ratings, avg_rating, damped_rating, popularity (`global_mean`: when the caller has it)."""
    global_mean = global_mean_rating(ratings) if global_mean is None else global_mean
    return ratings.groupBy("movieId").agg(
        F.count("*").alias("num_ratings"),
        F.avg("rating").alias("avg_rating"),
        ((F.sum("rating") + F.lit(damping * global_mean)) / (F.count("*") + F.lit(damping))).alias("damped_rating"),
        F.log1p(F.count("*")).alias("popularity"),
    )


def with_movie_stats(movies: DataFrame, stats: DataFrame) -> DataFrame:
    """Movies without ratings stay, with zero counts and null means."""
    return movies.join(stats, "movieId", "left").fillna({"num_ratings": 0, "popularity": 0.0})


def activity_level(count_col: F.Column) -> F.Column:
    expr = None
    for limit, name in ACTIVITY_BUCKETS:
        expr = F.when(count_col < limit, name) if expr is None else expr.when(count_col < limit, name)
    return expr.otherwise("power")


def user_activity(ratings: DataFrame, movies: DataFrame, *, top_genres: int = 3) -> DataFrame:
    """userId, num_ratings, avg_rating, rating_std, first/last_rating_ts, rated_movie_ids, activity_level,
    favourite_genres."""
    base = ratings.groupBy("userId").agg(
        F.count("*").alias("num_ratings"),
        F.avg("rating").alias("avg_rating"),
        F.coalesce(F.stddev_samp("rating"), F.lit(0.0)).alias("rating_std"),
        F.min("timestamp").alias("first_rating_ts"),
        F.max("timestamp").alias("last_rating_ts"),
        # What the user's recommendations exclude, read by a terms lookup inside the kNN filter.
        F.sort_array(F.collect_list("movieId")).alias("rated_movie_ids"),
    )
    # Favourite genres: most often rated at or above the user's own mean.
    liked = (
        ratings.join(base.select("userId", F.col("avg_rating").alias("_mean")), "userId")
        .where(F.col("rating") >= F.col("_mean"))
        .join(movies.select("movieId", F.explode("genres").alias("genre")), "movieId")
        .groupBy("userId", "genre")
        .count()
    )
    rank = Window.partitionBy("userId").orderBy(F.col("count").desc(), F.col("genre"))
    favourites = (
        liked.withColumn("_r", F.row_number().over(rank))
        .where(F.col("_r") <= top_genres)
        .groupBy("userId")
        .agg(F.sort_array(F.collect_list(F.struct("_r", "genre"))).alias("_g"))
        .select("userId", F.col("_g.genre").alias("favourite_genres"))
    )
    return (
        base.join(favourites, "userId", "left")
        .withColumn("favourite_genres", F.coalesce("favourite_genres", F.array().cast("array<string>")))
        .withColumn("activity_level", activity_level(F.col("num_ratings")))
    )
