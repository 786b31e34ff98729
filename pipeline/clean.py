"""Cleaning: typed columns, parsed titles, genre lists, rejected rows with reasons.

Every rule counts what it touches (`CleaningReport`); nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from movierec.search.domain import RatingSource
from movierec.search.titles import parse_title

log = logging.getLogger(__name__)

RATING_MIN, RATING_MAX = 0.5, 5.0
NO_GENRES = "(no genres listed)"

_TITLE_SCHEMA = "movieId int, title string, original_title string, year int, alt_titles array<string>"


def parsed_titles(movies: DataFrame) -> DataFrame:
    """movieId, title, original_title, year, alt_titles: `parse_title` applied on the driver.

    Catalogues are small (ml-32m has 87,585 movies), and a Python UDF costs a Python worker per task:
    on ml-latest-small the UDF stage took 8-10 s of a 24 s clean stage, while parsing the 9,742 titles
    here takes 0.06 s plus one collect. One parser for the pipeline and the API's POST /movies.
    """
    rows = []
    for row in movies.select("movieId", "raw_title").collect():
        parsed = parse_title(row["raw_title"])
        rows.append((row["movieId"], parsed.title, parsed.original_title, parsed.year, parsed.alt_titles))
    return movies.sparkSession.createDataFrame(rows, _TITLE_SCHEMA)


@dataclass
class CleaningReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, rule: str, count: int) -> None:
        self.counts[rule] = self.counts.get(rule, 0) + int(count)

    def rejected(self) -> int:
        """Rows rejected by clean_movies and clean_ratings (their rules are named "<kind> rejected: ...")."""
        return sum(
            count for rule, count in self.counts.items() if rule.startswith(("movies rejected:", "ratings rejected:"))
        )

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
    kept = good.where("_n = 1")
    parsed = kept.join(F.broadcast(parsed_titles(kept)), "movieId")
    genres = F.when(
        (F.col("raw_genres").isNull()) | (F.col("raw_genres") == "") | (F.col("raw_genres") == NO_GENRES),
        F.array().cast("array<string>"),
    ).otherwise(F.array_distinct(F.split("raw_genres", r"\|")))
    movies = parsed.select(
        "movieId",
        "title",
        "original_title",
        "alt_titles",
        "year",
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


def keep_known_movies(ratings: DataFrame, movies: DataFrame, report: CleaningReport) -> tuple[DataFrame, dict]:
    """-> (the ratings of movies that movies.csv knows, kept ratings by `source`); the others are counted
    and dropped. One aggregation gives both (two counts cost a job each: each job is 0.2-1 s of fixed
    Spark overhead at this size, which dominates the small runs)."""
    ids = movies.select("movieId", F.lit(True).alias("_known"))
    flagged = ratings.join(
        F.broadcast(ids), "movieId", "left"
    ).cache()  # a catalogue is small (87,585 movies in ml-32m)
    source = F.col("source") if "source" in ratings.columns else F.lit(RatingSource.MOVIELENS.value)
    kept: dict[str, int] = {}
    dropped = 0
    for row in flagged.groupBy(F.col("_known").isNotNull().alias("known"), source.alias("src")).count().collect():
        if row["known"]:
            kept[row["src"]] = row["count"]
        else:
            dropped += row["count"]
    report.add("ratings of unknown movieId (dropped)", dropped)
    return flagged.where(F.col("_known").isNotNull()).drop("_known"), kept


def drop_unknown_movies(ratings: DataFrame, movies: DataFrame, report: CleaningReport) -> DataFrame:
    """Ratings of movie ids that movies.csv does not know are counted and dropped."""
    return keep_known_movies(ratings, movies, report)[0]


LIVE_RATINGS_SCHEMA = "userId int, movieId int, rating double, timestamp long"
LIVE_RULES = (
    "live ratings carried over",
    "file ratings replaced by a later live rating",
    "live ratings older than the file's (dropped)",
)


def merge_live_ratings(ratings: DataFrame, live: DataFrame | None, report: CleaningReport) -> DataFrame:
    """File ratings plus the API's, with a `source` column; per (user, movie) the latest rating wins.

    On a tie in time the API rating wins: it is what the user said through this system. Only the
    (few) live pairs are joined against the file ratings, so the file ratings are not shuffled.
    `live` None: there are none (the caller knows; counting an empty frame is three jobs).
    """
    if live is None:
        for rule in LIVE_RULES:
            report.add(rule, 0)
        return ratings.withColumn("source", F.lit(RatingSource.MOVIELENS.value))
    file_times = ratings.select("userId", "movieId", F.col("timestamp").alias("_file_ts"))
    resolved = live.join(file_times, ["userId", "movieId"], "left").cache()
    winners = resolved.where(F.col("_file_ts").isNull() | (F.col("timestamp") >= F.col("_file_ts")))
    carried, replaced, older = LIVE_RULES
    report.add(carried, winners.count())
    report.add(replaced, winners.where(F.col("_file_ts").isNotNull()).count())
    report.add(older, resolved.where(F.col("timestamp") < F.col("_file_ts")).count())
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
