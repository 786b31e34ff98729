"""Cleaning: typed columns, parsed titles, genre lists, rejected rows with reasons.

Every rule counts what it touches (`CleaningReport`); nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from movierec.search.domain import RatingSource
from movierec.search.titles import parse_title

log = logging.getLogger(__name__)

RATING_MIN, RATING_MAX = 0.5, 5.0
NO_GENRES = "(no genres listed)"

_TITLE_TYPE = T.StructType(
    [
        T.StructField("title", T.StringType()),
        T.StructField("original_title", T.StringType()),
        T.StructField("year", T.IntegerType()),
        T.StructField("alt_titles", T.ArrayType(T.StringType())),
    ]
)


@F.udf(_TITLE_TYPE)
def _parse_title_udf(raw: str | None) -> tuple:
    parsed = parse_title(raw)
    return (parsed.title, parsed.original_title, parsed.year, parsed.alt_titles)


@dataclass
class CleaningReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, rule: str, count: int) -> None:
        self.counts[rule] = self.counts.get(rule, 0) + int(count)

    def lines(self) -> list[str]:
        return [f"{rule}: {count}" for rule, count in sorted(self.counts.items())]


ORIGIN = ("_file", "_pid", "_mid", "_raw", "_extra")
REJECTED_COLUMNS = ("source", "reason", "line", "_file", "_pid", "_mid")


def _with_origin(raw: DataFrame, source: str) -> DataFrame:
    """Rows read by `load` carry their file, position and raw line; rows made otherwise (tests,
    other readers) get their fields joined as the line and no position."""
    if "_raw" in raw.columns:
        return raw
    line = F.concat_ws(",", *[F.coalesce(F.col(c).cast("string"), F.lit("")) for c in raw.columns])
    return raw.select(
        "*",
        F.lit(source).alias("_file"),
        F.lit(None).cast("int").alias("_pid"),
        F.lit(None).cast("long").alias("_mid"),
        line.alias("_raw"),
        F.lit(None).cast("string").alias("_extra"),
    )


def _int(col: str) -> F.Column:
    return F.expr(f"try_cast(trim({col}) AS INT)")


def clean_ratings(raw: DataFrame, report: CleaningReport | None = None) -> tuple[DataFrame, DataFrame]:
    """-> (ratings[userId, movieId, rating, timestamp], rejected[source, reason, line])."""
    report = report if report is not None else CleaningReport()
    raw = _with_origin(raw, "ratings")
    typed = raw.select(
        *ORIGIN,
        F.col("_raw").alias("line"),
        _int("userId").alias("userId"),
        _int("movieId").alias("movieId"),
        F.expr("try_cast(trim(rating) AS DOUBLE)").alias("rating"),
        F.expr("try_cast(trim(timestamp) AS LONG)").alias("timestamp"),
    )
    reason = (
        F.when(F.col("_extra").isNotNull(), "extra fields after the expected columns")
        .when(F.col("userId").isNull(), "userId missing or not an integer")
        .when(F.col("userId") <= 0, "userId not positive")
        .when(F.col("movieId").isNull(), "movieId missing or not an integer")
        .when(F.col("movieId") <= 0, "movieId not positive")
        .when(F.col("rating").isNull(), "rating missing or not a number")
        .when(
            (F.col("rating") < RATING_MIN) | (F.col("rating") > RATING_MAX),
            f"rating outside {RATING_MIN}..{RATING_MAX}",
        )
        .when(F.col("timestamp").isNull(), "timestamp missing or not an integer")
    )
    flagged = typed.withColumn("reason", reason).cache()
    bad = flagged.where(F.col("reason").isNotNull())
    good = flagged.where(F.col("reason").isNull())
    # A (user, movie) pair rated twice keeps the latest rating; the older ones are rejected.
    latest_first = Window.partitionBy("userId", "movieId").orderBy(F.col("timestamp").desc(), F.col("rating").desc())
    ranked = good.withColumn("_n", F.row_number().over(latest_first))
    dupes = ranked.where("_n > 1").select(
        "line", F.lit("duplicate (userId, movieId): older rating").alias("reason"), "_file", "_pid", "_mid"
    )
    ratings = ranked.where("_n = 1").select("userId", "movieId", "rating", "timestamp")
    rejected = (
        bad.select("line", "reason", "_file", "_pid", "_mid").unionByName(dupes).withColumn("source", F.lit("ratings"))
    )
    for row in rejected.groupBy("reason").count().collect():
        report.add(f"ratings rejected: {row['reason']}", row["count"])
    return ratings, rejected.select(*REJECTED_COLUMNS)


def clean_movies(
    raw: DataFrame, links: DataFrame | None = None, report: CleaningReport | None = None
) -> tuple[DataFrame, DataFrame]:
    """-> (movies[movieId, title, original_title, alt_titles, year, genres, imdb_id, tmdb_id], rejected)."""
    report = report if report is not None else CleaningReport()
    raw = _with_origin(raw, "movies")
    typed = raw.select(
        *ORIGIN,
        F.col("_raw").alias("line"),
        _int("movieId").alias("movieId"),
        F.trim(F.col("title")).alias("raw_title"),
        F.trim(F.col("genres")).alias("raw_genres"),
    )
    reason = (
        F.when(F.col("_extra").isNotNull(), "extra fields after the expected columns")
        .when(F.col("movieId").isNull(), "movieId missing or not an integer")
        .when(F.col("movieId") <= 0, "movieId not positive")
        .when(F.coalesce(F.length("raw_title"), F.lit(0)) == 0, "title missing")
    )
    flagged = typed.withColumn("reason", reason).cache()
    by_id = Window.partitionBy("movieId").orderBy("raw_title")
    good = flagged.where(F.col("reason").isNull()).withColumn("_n", F.row_number().over(by_id))
    rejected = (
        flagged.where(F.col("reason").isNotNull())
        .select("line", "reason", "_file", "_pid", "_mid")
        .unionByName(
            good.where("_n > 1").select("line", F.lit("duplicate movieId").alias("reason"), "_file", "_pid", "_mid")
        )
        .withColumn("source", F.lit("movies"))
    )
    parsed = good.where("_n = 1").withColumn("parsed", _parse_title_udf("raw_title"))
    genres = F.when(
        (F.col("raw_genres").isNull()) | (F.col("raw_genres") == "") | (F.col("raw_genres") == NO_GENRES),
        F.array().cast("array<string>"),
    ).otherwise(F.array_distinct(F.split("raw_genres", r"\|")))
    movies = parsed.select(
        "movieId",
        F.col("parsed.title").alias("title"),
        F.col("parsed.original_title").alias("original_title"),
        F.col("parsed.alt_titles").alias("alt_titles"),
        F.col("parsed.year").alias("year"),
        genres.alias("genres"),
    )
    if links is not None:
        clean_links = links.select(
            _int("movieId").alias("movieId"),
            # imdb ids keep their leading zeros: "0114709" -> "tt0114709".
            F.when(F.trim("imdbId").rlike(r"^\d+$"), F.concat(F.lit("tt"), F.lpad(F.trim("imdbId"), 7, "0"))).alias(
                "imdb_id"
            ),
            F.when(F.trim("tmdbId").rlike(r"^\d+$"), F.trim("tmdbId")).alias("tmdb_id"),
        ).dropDuplicates(["movieId"])
        movies = movies.join(clean_links, "movieId", "left")
    else:
        movies = movies.withColumn("imdb_id", F.lit(None).cast("string")).withColumn(
            "tmdb_id", F.lit(None).cast("string")
        )
    movies = movies.cache()
    stats = movies.agg(
        F.sum(F.when(F.col("year").isNull(), 1).otherwise(0)).alias("no_year"),
        F.sum(F.when(F.size("genres") == 0, 1).otherwise(0)).alias("no_genres"),
        F.sum(F.when(F.size("alt_titles") > 0, 1).otherwise(0)).alias("alt_titles"),
        F.sum(F.when(F.col("title") != F.col("original_title"), 1).otherwise(0)).alias("title_rewritten"),
        F.sum(F.when(F.col("tmdb_id").isNull(), 1).otherwise(0)).alias("no_tmdb_id"),
    ).first()
    for key in stats.asDict():
        report.add(f"movies {key.replace('_', ' ')}", stats[key] or 0)
    dup_titles = movies.groupBy("title", "year").count().where("count > 1").agg(F.sum("count")).first()[0]
    report.add("movies sharing title and year with another id (kept)", dup_titles or 0)
    for row in rejected.groupBy("reason").count().collect():
        report.add(f"movies rejected: {row['reason']}", row["count"])
    return movies, rejected.select(*REJECTED_COLUMNS)


def drop_unknown_movies(ratings: DataFrame, movies: DataFrame, report: CleaningReport) -> DataFrame:
    """Ratings of movie ids that movies.csv does not know are counted and dropped."""
    known = ratings.join(movies.select("movieId"), "movieId", "left_semi")
    dropped = ratings.count() - known.count()
    report.add("ratings of unknown movieId (dropped)", dropped)
    return known


LIVE_RATINGS_SCHEMA = "userId int, movieId int, rating double, timestamp long"


def merge_live_ratings(ratings: DataFrame, live: DataFrame, report: CleaningReport) -> DataFrame:
    """File ratings plus the API's, with a `source` column; per (user, movie) the latest rating wins.

    On a tie in time the API rating wins: it is what the user said through this system. Only the
    (few) live pairs are joined against the file ratings, so the file ratings are not shuffled.
    """
    file_times = ratings.select("userId", "movieId", F.col("timestamp").alias("_file_ts"))
    resolved = live.join(file_times, ["userId", "movieId"], "left").cache()
    winners = resolved.where(F.col("_file_ts").isNull() | (F.col("timestamp") >= F.col("_file_ts")))
    report.add("live ratings carried over", winners.count())
    report.add("file ratings replaced by a later live rating", winners.where(F.col("_file_ts").isNotNull()).count())
    report.add(
        "live ratings older than the file's (dropped)", resolved.where(F.col("timestamp") < F.col("_file_ts")).count()
    )
    kept_files = ratings.join(winners.select("userId", "movieId"), ["userId", "movieId"], "left_anti")
    return kept_files.withColumn("source", F.lit(RatingSource.MOVIELENS.value)).unionByName(
        winners.drop("_file_ts").withColumn("source", F.lit(RatingSource.API.value))
    )


DELETIONS_SCHEMA = "userId int, movieId int, deleted_at long"  # movieId null: the whole user was erased


def drop_deleted_ratings(ratings: DataFrame, deletions: DataFrame, report: CleaningReport) -> DataFrame:
    """Deletions and erasures made through the API stay in force: drop ratings given before them."""
    per_rating = deletions.where(F.col("movieId").isNotNull())
    per_user = deletions.where(F.col("movieId").isNull()).groupBy("userId").agg(F.max("deleted_at").alias("erased_at"))
    joined = ratings.join(per_rating, ["userId", "movieId"], "left").join(per_user, "userId", "left")
    flagged = joined.withColumn(
        "_dropped",
        F.when(
            F.col("erased_at").isNotNull() & (F.col("timestamp") <= F.col("erased_at")),
            "ratings of erased users (dropped)",
        ).when(
            F.col("deleted_at").isNotNull() & (F.col("timestamp") <= F.col("deleted_at")),
            "ratings deleted through the API (dropped)",
        ),
    ).cache()
    counts = {row["_dropped"]: row["count"] for row in flagged.groupBy("_dropped").count().collect() if row["_dropped"]}
    for rule in ("ratings deleted through the API (dropped)", "ratings of erased users (dropped)"):
        report.add(rule, counts.get(rule, 0))
    return flagged.where(F.col("_dropped").isNull()).drop("_dropped", "deleted_at", "erased_at")
