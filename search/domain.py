"""Rules and protocol values shared by the pipeline, the store and the API, each in one place.

Pure (no Elasticsearch, no Spark, no FastAPI; the clock is its only input), so every side imports it.
"""

from __future__ import annotations

import time
from enum import StrEnum

# Release years a movie can have: the first films are from the late 1880s, and anything past 2100 is a
# typo. Titles outside it get no year (pipeline), queries and API filters outside it are not years.
YEAR_MIN, YEAR_MAX = 1870, 2100

# One time unit for what movierec stamps: epoch milliseconds, as Elasticsearch stores dates (`updated_at`
# everywhere, a deletion's or an erasure's `date`, export and erasure answers). Rating dates are the
# exception: epoch seconds, as MovieLens gives them (the ratings mapping's _meta says so).


def now_ms() -> int:
    """Now, in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def now_seconds() -> int:
    """Now, in epoch seconds: the unit of rating dates."""
    return int(time.time())


def seconds_to_ms(seconds: float) -> int:
    return round(seconds * 1000)


def ms_to_seconds(ms: float) -> int:
    """Rounded down: an instant in a second compares as that second with rating dates."""
    return int(ms // 1000)


class VectorSource(StrEnum):
    """Where a user document's vector came from (`vector_source` in the users index and the API)."""

    ALS = "als"  # trained by the pipeline
    FOLD_IN = "fold-in"  # recomputed by the API from every stored rating
    NONE = "none"  # no rating left to compute one from
    NO_CONSENT = "no-consent"  # withheld: no consent to personalisation


class RatingSource(StrEnum):
    """Where a rating came from (`source` in the ratings index)."""

    MOVIELENS = "movielens"  # the dataset's files
    API = "api"  # POST /users/{id}/ratings: only in Elasticsearch, carried into every new version
