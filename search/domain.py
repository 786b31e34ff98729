"""Rules and protocol values shared by the pipeline, the store and the API, each in one place.

Pure: no Elasticsearch, no Spark, no FastAPI, so every side imports it.
"""

from __future__ import annotations

# Release years a movie can have: the first films are from the late 1880s, and anything past 2100 is a
# typo. Titles outside it get no year (pipeline), queries and API filters outside it are not years.
YEAR_MIN, YEAR_MAX = 1870, 2100
