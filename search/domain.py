"""Rules and protocol values shared by the pipeline, the store and the API, each in one place.

Pure: no Elasticsearch, no Spark, no FastAPI, so every side imports it.
"""

from __future__ import annotations

from enum import StrEnum

# Release years a movie can have: the first films are from the late 1880s, and anything past 2100 is a
# typo. Titles outside it get no year (pipeline), queries and API filters outside it are not years.
YEAR_MIN, YEAR_MAX = 1870, 2100


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
