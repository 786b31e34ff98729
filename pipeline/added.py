"""Movies added through the API join the next run's catalogue; one that a data file now holds is merged.

The records come from the unversioned added-movies index (search/added_movies.py). A record whose
normalised title and year match a file movie is merged: its API ratings move to the file's id (a later
rating of the pair wins, as for any carried-over rating) and the record is marked `merged_into`, so the
added id answers as an alias of the file's movie. The others are appended to the movies with
`source: api`; their API ratings are then trained on like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from movierec.search.carryover import latest_per_pair  # a user who rated both ids keeps the later
from movierec.search.domain import RatingSource
from movierec.search.newmovie import dedupe_key
from movierec.search.text import normalize

MOVIE_COLUMNS = (
    "movieId int, title string, original_title string, alt_titles array<string>, year int, "
    "genres array<string>, imdb_id string, tmdb_id string"
)


@dataclass
class CarriedIn:
    movies: DataFrame  # the files' movies plus the added ones, with a `source` column
    live: list[dict]  # the API ratings, merged movies' ratings moved to the file's id
    merges: dict[int, int]  # added id -> the file's id
    added: int  # added movies appended


def _key(title: str | None, year: int | None) -> str:
    return dedupe_key(normalize(title), year)


def carry_in(spark: SparkSession, movies: DataFrame, records: list[dict], live: list[dict]) -> CarriedIn:
    movies = movies.withColumn("source", F.lit(RatingSource.MOVIELENS.value))
    if not records:
        return CarriedIn(movies, live, {}, 0)
    wanted = {r["key"] for r in records}
    keyed = movies.select("movieId", F.udf(_key, "string")("title", "year").alias("_key"))
    file_ids = {row["_key"]: row["movieId"] for row in keyed.where(F.col("_key").isin(list(wanted))).collect()}
    merges = {int(r["movie_id"]): int(file_ids[r["key"]]) for r in records if r["key"] in file_ids}
    appended = [r for r in records if int(r["movie_id"]) not in merges]
    rows = [
        (
            int(r["movie_id"]),
            r["title"],
            r.get("original_title") or r["title"],
            list(r.get("alt_titles") or []),
            r.get("year"),
            list(r.get("genres") or []),
            r.get("imdb_id"),
            r.get("tmdb_id"),
        )
        for r in appended
    ]
    extra = spark.createDataFrame(rows, MOVIE_COLUMNS).withColumn("source", F.lit(RatingSource.API.value))
    moved = [{**rating, "movie_id": merges.get(int(rating["movie_id"]), rating["movie_id"])} for rating in live]
    return CarriedIn(movies.unionByName(extra), latest_per_pair(moved), merges, len(appended))
