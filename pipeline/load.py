"""Read a MovieLens folder into raw DataFrames with explicit schemas (no inference)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from movierec.errors import BadInput

RATINGS_SCHEMA = T.StructType(
    [
        T.StructField("userId", T.StringType()),
        T.StructField("movieId", T.StringType()),
        T.StructField("rating", T.StringType()),
        T.StructField("timestamp", T.StringType()),
    ]
)
MOVIES_SCHEMA = T.StructType(
    [
        T.StructField("movieId", T.StringType()),
        T.StructField("title", T.StringType()),
        T.StructField("genres", T.StringType()),
    ]
)
LINKS_SCHEMA = T.StructType(
    [
        T.StructField("movieId", T.StringType()),
        T.StructField("imdbId", T.StringType()),
        T.StructField("tmdbId", T.StringType()),
    ]
)
ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


class DatasetError(BadInput):
    """The folder is not a MovieLens dataset we can read; the message names the path."""


@dataclass
class RawData:
    layout: str
    ratings: DataFrame  # userId, movieId, rating, timestamp: all strings, typed by clean.py
    movies: DataFrame  # movieId, title, genres ("A|B")
    links: DataFrame | None


def detect_layout(folder: Path) -> str:
    if (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file():
        return "csv"
    if (folder / "ratings.dat").is_file() and (folder / "movies.dat").is_file():
        return "dat"
    if (folder / "u.data").is_file() and (folder / "u.item").is_file():
        return "100k"
    present = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else []
    raise DatasetError(
        f"{folder} is not a MovieLens folder: expected ratings.csv + movies.csv (ml-latest, ml-25m, ml-32m), "
        f"ratings.dat + movies.dat (ml-1m, ml-10m) or u.data + u.item (ml-100k); found {present or 'nothing'}"
    )


def load_movielens(spark: SparkSession, folder: Path) -> RawData:
    folder = Path(folder)
    layout = detect_layout(folder)
    if layout == "csv":
        return _load_csv(spark, folder)
    if layout == "dat":
        return _load_dat(spark, folder)
    return _load_100k(spark, folder)


def _csv(spark: SparkSession, path: Path, schema: T.StructType, **options: str) -> DataFrame:
    reader = spark.read.option("header", "true").option("quote", '"').option("escape", '"').option("mode", "PERMISSIVE")
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.schema(schema).csv(str(path))


def _load_csv(spark: SparkSession, folder: Path) -> RawData:
    links = _csv(spark, folder / "links.csv", LINKS_SCHEMA) if (folder / "links.csv").is_file() else None
    return RawData(
        "csv",
        ratings=_csv(spark, folder / "ratings.csv", RATINGS_SCHEMA),
        movies=_csv(spark, folder / "movies.csv", MOVIES_SCHEMA),
        links=links,
    )


def _load_dat(spark: SparkSession, folder: Path) -> RawData:
    # ml-1m is ISO-8859-1; ml-10m is UTF-8. Latin-1 never fails to decode, so try UTF-8 first.
    encoding = "UTF-8" if _is_utf8(folder / "movies.dat") else "ISO-8859-1"
    opts = {"header": "false", "sep": "::", "quote": "\u0000", "encoding": encoding}
    ratings = _csv(spark, folder / "ratings.dat", RATINGS_SCHEMA, **opts)
    movies = _csv(spark, folder / "movies.dat", MOVIES_SCHEMA, **opts)
    return RawData("dat", ratings=ratings, movies=movies, links=None)


def _load_100k(spark: SparkSession, folder: Path) -> RawData:
    ratings = _csv(spark, folder / "u.data", RATINGS_SCHEMA, header="false", sep="\t")
    item_schema = T.StructType(
        [
            T.StructField(name, T.StringType())
            for name in ("movieId", "title", "release_date", "video_release", "imdb_url")
        ]
        + [T.StructField(f"g_{i}", T.StringType()) for i in range(len(ML100K_GENRES))]
    )
    items = _csv(spark, folder / "u.item", item_schema, header="false", sep="|", quote="\u0000", encoding="ISO-8859-1")
    genres = F.concat_ws(
        "|", *[F.when(F.col(f"g_{i}") == "1", F.lit(name)) for i, name in enumerate(ML100K_GENRES) if name != "unknown"]
    )
    movies = items.select("movieId", "title", genres.alias("genres"))
    return RawData("100k", ratings=ratings, movies=movies, links=None)


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
