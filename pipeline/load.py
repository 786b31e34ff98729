"""Read a MovieLens folder into raw DataFrames with explicit schemas (no inference)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from movierec.errors import BadInput

RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIE_COLUMNS = ("movieId", "title", "genres")
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


# Columns by file, as GroupLens names them in the CSV layout (read by name, in any order).
EXPECTED = {
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
    "movies.csv": ("movieId", "title", "genres"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
}
# Every parsed row keeps where it came from, so a rejected row can be shown as it was written:
# `_file`, `_pid` and `_mid` (partition and monotonically increasing id: with the partition sizes
# they give the line number, computed only when something is rejected) and `_raw` (the line).
# `_extra` holds the first field beyond the expected ones: a row with more fields is rejected.
LINE_COLUMNS = ("_file", "_pid", "_mid", "_raw", "_extra")


@dataclass
class RawData:
    layout: str
    ratings: DataFrame  # userId, movieId, rating, timestamp: all strings, typed by clean.py; + LINE_COLUMNS
    movies: DataFrame  # movieId, title, genres ("A|B"); + LINE_COLUMNS
    links: DataFrame | None
    lines: dict[str, DataFrame] = field(default_factory=dict)  # file name -> its lines (_pid, _mid)

    def with_line_numbers(self, rejected: DataFrame) -> DataFrame:
        """`rejected` (with _file, _pid, _mid) plus `line_no`, the 1-based line in its file."""
        offsets = []
        for name, lines in self.lines.items():
            counts = sorted((r["_pid"], r["count"]) for r in lines.groupBy("_pid").count().collect())
            start = 0
            for pid, count in counts:
                offsets.append((name, pid, start))
                start += count
        if not offsets:
            return rejected.withColumn("line_no", F.lit(None).cast("long"))
        table = rejected.sparkSession.createDataFrame(offsets, "_file string, _pid int, _start long")
        position = F.col("_mid") - F.col("_pid").cast("long") * F.lit(1 << 33)
        return rejected.join(F.broadcast(table), ["_file", "_pid"], "left").withColumn(
            "line_no", F.col("_start") + position + 1
        )


def detect_layout(folder: Path) -> str:
    if (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file():
        return "csv"
    if (folder / "ratings.dat").is_file() and (folder / "movies.dat").is_file():
        return "dat"
    if (folder / "u.data").is_file() and (folder / "u.item").is_file():
        return "100k"
    present = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else []
    if folder.is_file():
        raise DatasetError(f"{folder} is a file: give the MovieLens folder, or its .zip as downloaded from GroupLens")
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


def read_header(path: Path) -> list[str]:
    """The first line of a CSV file, as column names."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    if not first.strip():
        raise DatasetError(f"{path}: empty file (expected a header line {','.join(EXPECTED[path.name])})")
    return next(csv.reader([first]))


def columns_by_name(path: Path, header: list[str]) -> list[str]:
    """The header's names, checked against the layout; the file's order (columns are taken by name)."""
    expected = EXPECTED[path.name]
    names = [h.strip() for h in header]
    if sorted(names) != sorted(expected):
        unknown = [n for n in names if n not in expected]
        missing = [n for n in expected if n not in names]
        raise DatasetError(
            f"{path}: header {','.join(names)!r} does not name the expected columns {','.join(expected)} "
            f"(unknown: {', '.join(unknown) or 'none'}; missing: {', '.join(missing) or 'none'}); "
            "columns are read by name, in any order"
        )
    return names


def _lines(
    spark: SparkSession, path: Path, *, encoding: str = "UTF-8", header: bool = False
) -> tuple[DataFrame, DataFrame]:
    """-> (every line with where it came from, for line numbers; the lines to parse: no header, no blank)."""
    if encoding.upper() in ("UTF-8", "UTF8"):
        df = spark.read.text(str(path)).withColumnRenamed("value", "_raw")
    else:  # the text reader is UTF-8 only; the CSV reader decodes, with one column per line
        reader = spark.read.option("encoding", encoding).option("sep", "\u0001").option("quote", "\u0000")
        df = reader.schema("_raw string").csv(str(path))
    df = df.select(
        F.lit(path.name).alias("_file"),
        F.spark_partition_id().alias("_pid"),
        F.monotonically_increasing_id().alias("_mid"),
        F.regexp_replace("_raw", "\r$", "").alias("_raw"),
    )
    content = df.where(F.col("_mid") != 0) if header else df
    return df, content.where(F.length(F.trim("_raw")) > 0)


def _parse(lines: DataFrame, names: list[str], select: tuple[str, ...], **options: str) -> DataFrame:
    ddl = ", ".join(f"`{n}` string" for n in [*names, "_extra"])
    parsed = lines.withColumn("_row", F.from_csv("_raw", ddl, options))
    return parsed.select(*[F.col(f"_row.{n}").alias(n) for n in select], "_file", "_pid", "_mid", "_raw", "_row._extra")


CSV_OPTIONS = {"quote": '"', "escape": '"', "mode": "PERMISSIVE"}
USER_ID_MASK = "<userId>"


def mask_user_id(ratings: DataFrame, position: int, sep: str) -> DataFrame:
    """The raw line with its user id replaced by <userId> (when it is one: a positive integer).

    The line is kept for rejected rows, which are written under runs/; without the user id they hold
    no personal data, so erasure has nothing to find there (file and line number still locate the row
    in the source file). Invalid ids (-5, "abc") identify nobody and stay, to show what was wrong."""
    parts = F.split("_raw", rf"\Q{sep}\E")
    masked = F.array_join(F.transform(parts, lambda x, i: F.when(i == position, USER_ID_MASK).otherwise(x)), sep)
    is_id = F.expr("try_cast(trim(userId) AS INT)") > 0
    return ratings.withColumn("_raw", F.when(is_id, masked).otherwise(F.col("_raw")))


def _csv_file(spark: SparkSession, path: Path) -> tuple[DataFrame, DataFrame]:
    names = columns_by_name(path, read_header(path))
    every, lines = _lines(spark, path, header=True)
    parsed = _parse(lines, names, EXPECTED[path.name], **CSV_OPTIONS)
    if "userId" in names:
        parsed = mask_user_id(parsed, names.index("userId"), ",")
    return parsed, every


def _load_csv(spark: SparkSession, folder: Path) -> RawData:
    ratings, ratings_lines = _csv_file(spark, folder / "ratings.csv")
    movies, movies_lines = _csv_file(spark, folder / "movies.csv")
    links = _csv_file(spark, folder / "links.csv")[0] if (folder / "links.csv").is_file() else None
    lines = {"ratings.csv": ratings_lines, "movies.csv": movies_lines}
    return RawData("csv", ratings=ratings, movies=movies, links=links, lines=lines)


def _load_dat(spark: SparkSession, folder: Path) -> RawData:
    # ml-1m is ISO-8859-1; ml-10m is UTF-8. Latin-1 never fails to decode, so try UTF-8 first.
    encoding = "UTF-8" if _is_utf8(folder / "movies.dat") else "ISO-8859-1"
    opts = {"sep": "::", "quote": "\u0000"}
    ratings_lines, ratings_content = _lines(spark, folder / "ratings.dat", encoding=encoding)
    movies_lines, movies_content = _lines(spark, folder / "movies.dat", encoding=encoding)
    ratings = mask_user_id(_parse(ratings_content, list(RATING_COLUMNS), RATING_COLUMNS, **opts), 0, "::")
    movies = _parse(movies_content, list(MOVIE_COLUMNS), MOVIE_COLUMNS, **opts)
    lines = {"ratings.dat": ratings_lines, "movies.dat": movies_lines}
    return RawData("dat", ratings=ratings, movies=movies, links=None, lines=lines)


def _load_100k(spark: SparkSession, folder: Path) -> RawData:
    ratings_lines, ratings_content = _lines(spark, folder / "u.data")
    ratings = mask_user_id(
        _parse(ratings_content, list(RATING_COLUMNS), RATING_COLUMNS, sep="\t", quote="\u0000"), 0, "\t"
    )
    item_names = ["movieId", "title", "release_date", "video_release", "imdb_url"]
    item_names += [f"g_{i}" for i in range(len(ML100K_GENRES))]
    items_lines, items_content = _lines(spark, folder / "u.item", encoding="ISO-8859-1")
    items = _parse(items_content, item_names, tuple(item_names), sep="|", quote="\u0000")
    genres = F.concat_ws(
        "|", *[F.when(F.col(f"g_{i}") == "1", F.lit(name)) for i, name in enumerate(ML100K_GENRES) if name != "unknown"]
    )
    movies = items.select("movieId", "title", genres.alias("genres"), *LINE_COLUMNS)
    lines = {"u.data": ratings_lines, "u.item": items_lines}
    return RawData("100k", ratings=ratings, movies=movies, links=None, lines=lines)


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
