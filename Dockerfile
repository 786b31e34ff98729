# One image for the API, the Spark pipeline and one-shot commands (`movierec ...`).
#
# Base image: python:3.11-slim-trixie with openjdk-21-jre-headless, pinned to Debian 13 "trixie".
# The floating `python:3.11-slim` tag moved from bookworm to trixie, and trixie has no
# openjdk-17-jre-headless: its JREs are 21 and 25. Spark 4.0 runs on Java 17 and 21, not 25, so the
# image uses trixie (current Debian stable) and Java 21, the same major as CI's test job. If you need
# Java 17, use python:3.11-slim-bookworm with openjdk-17-jre-headless instead. Bookworm is Debian
# oldstable and has no Java 21. The Debian release is part of the tag, so a later Debian release
# cannot remove the JRE from under this file again.

# --- build stage: the wheel (sources are copied here only) -------------------------------------
FROM python:3.11-slim-trixie AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md LICENSE ./
COPY movierec movierec
COPY pipeline pipeline
COPY search search
COPY service service
COPY mappings mappings
COPY dashboards dashboards
COPY data data
RUN python -m build --wheel --outdir /dist .

# --- runtime stage: the wheel installed, no source tree ----------------------------------------
FROM python:3.11-slim-trixie AS runtime

# The JRE for Spark (`movierec pipeline run`). The directory stops the JRE's man-page
# alternatives from failing on slim images, which have no /usr/share/man.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-21-jre-headless=21.* \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
RUN groupadd --system --gid 10001 movierec \
 && useradd --system --uid 10001 --gid movierec --home-dir /home/movierec --create-home movierec \
 && install -d -o movierec -g movierec /var/lib/movierec /var/lib/movierec/runs /var/lib/movierec/data

COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/movierec-*.whl \
 && rm -rf /tmp/dist

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MOVIEREC_RUNS_DIR=/var/lib/movierec/runs \
    MOVIEREC_DATA_DIR=/var/lib/movierec/data \
    WEB_CONCURRENCY=2
WORKDIR /home/movierec
USER 10001:10001

EXPOSE 8000
# Needs the API to answer 200: Elasticsearch reachable and a model indexed (503 before the first pipeline run).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
# The Procfile's web line, word for word (tests/deploy checks it). The shell expands the platform's
# $PORT (default 8000). uvicorn takes the number of workers from $WEB_CONCURRENCY.
# `docker run IMAGE movierec pipeline run` replaces this command for one-shot runs.
CMD ["sh", "-c", "exec uvicorn movierec.service.main:app --host 0.0.0.0 --port ${PORT:-8000} --no-access-log"]
