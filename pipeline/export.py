"""Documents for Elasticsearch, written in parallel from Spark partitions with the bulk helpers.

ES-Hadoop has no Spark 4 release, so each partition opens its own client and streams bulk
requests; per-partition outcomes come back to the driver, where failures are counted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark import Accumulator
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from movierec.connection import EsConnection
from movierec.search.domain import RatingSource, VectorSource
from movierec.search.text import alt_norms, normalize, suggest_inputs, title_keys

log = logging.getLogger(__name__)

MAX_ERROR_SAMPLES = 5


@dataclass
class BulkResult:
    index: str
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # (partition, documents written, pid of the Python worker that wrote them)
    partitions: list[tuple[int, int, int]] = field(default_factory=list)

    def merge(self, ok: int, failed: int, errors: list[str]) -> None:
        self.ok += ok
        self.failed += failed
        self.errors.extend(errors[: MAX_ERROR_SAMPLES - len(self.errors)])


_TITLE_FIELDS = (
    "movieId int, title_norm string, alt_titles_norm array<string>, title_keys array<string>, _inputs array<string>"
)


def title_fields(movies: DataFrame) -> DataFrame:
    """movieId plus the search fields derived from its titles, computed on the driver with the functions
    POST /movies uses. A catalogue is small (87,585 movies in ml-32m); four Python UDFs cost Python
    workers in every task of the stage instead."""
    rows = []
    for row in movies.select("movieId", "title", "original_title", "alt_titles").collect():
        titles = (row["title"], row["original_title"], row["alt_titles"])
        rows.append(
            (row["movieId"], normalize(row["title"]), alt_norms(*titles), title_keys(*titles), suggest_inputs(*titles))
        )
    return movies.sparkSession.createDataFrame(rows, _TITLE_FIELDS)


def movie_documents(movies: DataFrame, model_version: str, titles: DataFrame | None = None) -> DataFrame:
    """One row per movie shaped like mappings/movies.json (plus `_id`). `titles` is `title_fields` of
    the catalogue when the caller has it from a cheaper frame than `movies` (a join of several)."""
    titles = title_fields(movies) if titles is None else titles
    movies = movies.join(F.broadcast(titles), "movieId", "left")
    return movies.select(
        F.col("movieId").cast("string").alias("_id"),
        F.col("movieId").alias("movie_id"),
        "title",
        "original_title",
        "alt_titles",
        "title_norm",
        "alt_titles_norm",
        "title_keys",
        F.struct(F.col("_inputs").alias("input"), F.col("num_ratings").alias("weight")).alias("suggest"),
        "year",
        "genres",
        "imdb_id",
        "tmdb_id",
        "num_ratings",
        "avg_rating",
        "damped_rating",
        "popularity",
        "item_vector",
        "audience_vector",
        "audience_size",
        "embedding_x",
        "embedding_y",
        F.lit(model_version).alias("model_version"),
        F.when(F.col("item_vector").isNotNull(), F.lit(VectorSource.ALS.value)).alias("vector_source"),
        # Movies added through the API carry `source` (search/added_movies.py); the files' do not.
        (F.col("source") if "source" in movies.columns else F.lit(RatingSource.MOVIELENS.value)).alias("source"),
    )


def user_documents(users: DataFrame, model_version: str) -> DataFrame:
    return users.select(
        F.col("userId").cast("string").alias("_id"),
        F.col("userId").alias("user_id"),
        "user_vector",
        "num_ratings",
        "avg_rating",
        "rating_std",
        F.col("first_rating_ts").alias("first_rating_at"),
        F.col("last_rating_ts").alias("last_rating_at"),
        "activity_level",
        "favourite_genres",
        "rated_movie_ids",
        # Users whose vector is withheld (no consent) are marked, so the API's fold-in does the same.
        F.when(F.col("user_vector").isNotNull(), VectorSource.ALS.value)
        .otherwise(VectorSource.NO_CONSENT.value)
        .alias("vector_source"),
        F.lit(model_version).alias("model_version"),
    )


def rating_documents(ratings: DataFrame, movies: DataFrame) -> DataFrame:
    return ratings.join(movies.select("movieId", "genres", "title"), "movieId", "left").select(
        F.concat_ws("_", "userId", "movieId").alias("_id"),
        F.col("userId").alias("user_id"),
        F.col("movieId").alias("movie_id"),
        "rating",
        F.col("timestamp").alias("date"),
        "genres",
        "title",
        (F.col("source") if "source" in ratings.columns else F.lit(RatingSource.MOVIELENS.value)).alias("source"),
    )


def _partition_writer(
    conn: EsConnection, index: str, chunk_size: int, timeout: float, written: Accumulator[int]
) -> Callable[[Iterable[Row]], Iterator[tuple[int, int, list[str], int, int]]]:
    # Runs in the executors: `conn` travels inside this closure (never in the Spark conf or the
    # environment, which the Spark UI shows).
    def write(rows: Iterable[Row]) -> Iterator[tuple[int, int, list[str], int, int]]:
        from elasticsearch import Elasticsearch, helpers

        client = Elasticsearch(**conn.client_kwargs(request_timeout=timeout))
        ok = failed = 0
        errors: list[str] = []

        def actions():
            for row in rows:
                doc = row.asDict(recursive=True)
                doc_id = doc.pop("_id")
                yield {"_index": index, "_id": doc_id, "_source": {k: v for k, v in doc.items() if v is not None}}

        try:
            for success, info in helpers.streaming_bulk(
                client, actions(), chunk_size=chunk_size, raise_on_error=False, raise_on_exception=False
            ):
                if success:
                    ok += 1
                else:
                    failed += 1
                    if len(errors) < MAX_ERROR_SAMPLES:
                        errors.append(str(info)[:500])
        finally:
            client.close()
        written.add(ok + failed)
        from pyspark import TaskContext

        context = TaskContext.get()
        yield (ok, failed, errors, context.partitionId() if context else -1, os.getpid())

    return write


@contextmanager
def _polling(tick: Callable[[], None], every_s: float = 1.0):
    """Call `tick` every second while the block runs (accumulators merge as partitions finish)."""
    stop = threading.Event()

    def loop():
        while not stop.wait(every_s):
            tick()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        tick()


def bulk_write(
    docs: DataFrame,
    conn: EsConnection,
    index: str,
    *,
    chunk_size: int = 2000,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
    total: int | None = None,
) -> BulkResult:
    result = BulkResult(index)
    written = docs.sparkSession.sparkContext.accumulator(0)
    writer = _partition_writer(conn, index, chunk_size, timeout, written)
    with _polling(lambda: progress(written.value, total) if progress else None):
        outcomes = docs.rdd.mapPartitions(writer).collect()
    for ok, failed, errors, partition, pid in outcomes:
        result.merge(ok, failed, errors)
        result.partitions.append((partition, ok + failed, pid))
    if result.failed:
        log.error("%s: %d documents failed, e.g. %s", index, result.failed, result.errors[:1])
    return result
