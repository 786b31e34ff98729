"""Cleaning: typed columns, parsed titles, genre lists, rejected rows with reasons.

Every rule counts what it touches (`CleaningReport`); nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from movierec.search.domain import RatingSource
from movierec.search.titles import parse_title

log = logging.getLogger(__name__)

RATING_MIN, RATING_MAX = 0.5, 5.0
NO_GENRES = "(no genres listed)"

MOVIE_SCHEMA = (
    "movieId int, title string, original_title string, alt_titles array<string>, year int, "
    "genres array<string>, imdb_id string, tmdb_id string"
)
REJECTED_SCHEMA = "source string, reason string, line string, _file string, _pid int, _mid long"


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
    """-> (movies[movieId, title, original_title, alt_titles, year, genres, imdb_id, tmdb_id], rejected).

    Spark types the rows and names each rejection; the rest runs on the driver over one collect of the
    movies and one of the links. A catalogue is small (ml-32m has 87,585 movies), and the Spark form of
    the same steps (a window for duplicate ids, the title parser, the links join, three report
    aggregations) was five jobs, 7-8 s of the bundled data's 11-12 s clean stage (py-spy, quiet machine).
    """
    report = report if report is not None else CleaningReport()
    raw = _with_origin(raw, "movies")
    reason = (
        F.when(F.col("_extra").isNotNull(), "extra fields after the expected columns")
        .when(_int("movieId").isNull(), "movieId missing or not an integer")
        .when(_int("movieId") <= 0, "movieId not positive")
        .when(F.coalesce(F.length(F.trim("title")), F.lit(0)) == 0, "title missing")
    )
    typed = raw.select(
        "_file",
        "_pid",
        "_mid",
        F.col("_raw").alias("line"),
        _int("movieId").alias("movieId"),
        F.trim(F.col("title")).alias("raw_title"),
        F.trim(F.col("genres")).alias("raw_genres"),
        reason.alias("reason"),
    )
    rejected: list[tuple] = []
    first: dict[int, Row] = {}
    for row in typed.collect():
        if row["reason"] is not None:
            rejected.append(("movies", row["reason"], row["line"], row["_file"], row["_pid"], row["_mid"]))
            continue
        held = first.get(row["movieId"])
        if held is None or row["raw_title"] < held["raw_title"]:  # the first title in order stays
            row, held = held, row
            first[held["movieId"]] = held
        if row is not None:
            rejected.append(("movies", "duplicate movieId", row["line"], row["_file"], row["_pid"], row["_mid"]))
    ids = _links(links) if links is not None else {}
    rows = []
    for movie_id, row in first.items():
        parsed = parse_title(row["raw_title"])
        imdb_id, tmdb_id = ids.get(movie_id, (None, None))
        genres = _genres(row["raw_genres"])
        rows.append(
            (movie_id, parsed.title, parsed.original_title, parsed.alt_titles, parsed.year, genres, imdb_id, tmdb_id)
        )
    _report_movies(report, rows, rejected)
    spark = raw.sparkSession
    movies = spark.createDataFrame(rows, MOVIE_SCHEMA).cache()
    return movies, spark.createDataFrame(rejected, REJECTED_SCHEMA).select(*REJECTED_COLUMNS)


def _genres(raw: str | None) -> list[str]:
    if raw is None or raw in ("", NO_GENRES):
        return []
    return list(dict.fromkeys(raw.split("|")))  # distinct, in their order


def _links(links: DataFrame) -> dict[int, tuple[str | None, str | None]]:
    """movieId -> (imdb_id, tmdb_id): imdb ids keep their leading zeros ("0114709" -> "tt0114709")."""
    typed = links.select(
        _int("movieId").alias("movieId"), F.trim("imdbId").alias("imdb"), F.trim("tmdbId").alias("tmdb")
    )
    ids: dict[int, tuple[str | None, str | None]] = {}
    for row in typed.where(F.col("movieId").isNotNull()).collect():
        if row["movieId"] in ids:
            continue
        imdb, tmdb = row["imdb"], row["tmdb"]
        ids[row["movieId"]] = (
            f"tt{imdb.zfill(7)}" if imdb and imdb.isascii() and imdb.isdigit() else None,
            tmdb if tmdb and tmdb.isascii() and tmdb.isdigit() else None,
        )
    return ids


def _report_movies(report: CleaningReport, rows: list[tuple], rejected: list[tuple]) -> None:
    report.add("movies no year", sum(r[4] is None for r in rows))
    report.add("movies no genres", sum(not r[5] for r in rows))
    report.add("movies alt titles", sum(bool(r[3]) for r in rows))
    report.add("movies title rewritten", sum(r[1] != r[2] for r in rows))
    report.add("movies no tmdb id", sum(r[7] is None for r in rows))
    shared = Counter((r[1], r[4]) for r in rows)
    report.add("movies sharing title and year with another id (kept)", sum(n for n in shared.values() if n > 1))
    for reason, count in Counter(r[1] for r in rejected).items():
        report.add(f"movies rejected: {reason}", count)


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
