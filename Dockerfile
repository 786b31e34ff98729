# The API (and, with `movierec pipeline run`, the Spark pipeline: hence the JRE).
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY movierec movierec
COPY pipeline pipeline
COPY search search
COPY service service
RUN pip install --no-cache-dir -e . && useradd --create-home movierec
COPY mappings mappings
COPY data data
COPY dashboards dashboards

USER movierec
ENV ES_URL=http://elasticsearch:9200 \
    MOVIEREC_RUNS_DIR=/tmp/movierec-runs
EXPOSE 8000
CMD ["uvicorn", "movierec.service.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log"]
