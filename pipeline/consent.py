"""Consent in the pipeline: a user who has not consented to personalisation gets no vector."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

CONSENTS_SCHEMA = "userId int, personalisation boolean"


def consented_vectors(user_vectors: DataFrame, consents: DataFrame, *, default: bool) -> DataFrame:
    """The user vectors that may be served: recorded consent, else the deployment's default."""
    allowed = F.coalesce(F.col("personalisation"), F.lit(default))
    return user_vectors.join(consents, "userId", "left").where(allowed).drop("personalisation")
