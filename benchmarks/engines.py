"""Where a cluster pays off: the pipeline on local[*] vs a 2-worker standalone Spark cluster, and
indexing throughput into a 1-node vs a 3-node (1 replica) Elasticsearch cluster, in one run.

    .venv/bin/python -m benchmarks.engines [--sizes small,1m] [--docs 200000] [--max-users N] [--skip-spark] [--skip-es]

(from the repository root, as a module: it imports benchmarks.pipeline, with no sys.path change).

Spark: each size runs `movierec pipeline run --no-evaluate` in its own process, first with
`SPARK_MASTER=local[*]`, then against `movierec spark up --workers 2` (master on --spark-port),
into the 1-node cluster; wall time and the model card's stage times are reported side by side.
Elasticsearch: --docs rating documents are bulk-indexed (one client, chunks of 2,000) into a fresh
index on a 1-node cluster (--es-port) and a 3-node cluster (--es-port-3 .. +2; auto replicas: 1),
and the documents per second are reported. Clusters this script starts are stopped at the end.
Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.pipeline import dataset_folder

STAGES = ("load", "clean", "features", "train", "vectors", "index")


def run_pipeline(size: str, master: str, es_url: str, runs: Path, max_users: int | None = None) -> dict:
    env = {**os.environ, "SPARK_MASTER": master, "ES_URL": es_url, "SPARK_DRIVER_MEMORY": "1g"}
    env.update(MOVIEREC_INDEX_PREFIX=f"bench-engines-{size}-", MOVIEREC_RUNS_DIR=str(runs))
    movierec = str(Path(sys.executable).parent / "movierec")
    cmd = [movierec, "pipeline", "run", "--data", str(dataset_folder(size)), "--no-evaluate", "--allow-shrink"]
    cmd += ["--max-users", str(max_users)] if max_users else []
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"master": master, "failed": (proc.stdout + proc.stderr)[-600:]}
    card = json.loads(max(runs.glob("v*/model_card.json"), key=lambda p: p.stat().st_mtime).read_text())
    stages = {k: v for k, v in card["timings_s"].items() if k in STAGES}
    return {"master": master, "wall_s": round(wall, 1), "stages_s": stages}


def index_rate(es, n_docs: int, index: str) -> dict:
    from elasticsearch import helpers

    from movierec.search.indices import load_mapping

    es.options(ignore_status=404).indices.delete(index=index)
    es.indices.create(index=index, **load_mapping("ratings"))
    docs = (
        {
            "_index": index,
            "_id": f"{i // 50}-{i % 50}",
            "user_id": i // 50,
            "movie_id": i % 9000 + 1,
            "rating": 0.5 * (1 + i % 10),
            "date": 1_000_000_000 + i,
            "genres": ["Drama"],
            "title": f"Movie {i % 9000}",
            "source": "movielens",
        }
        for i in range(n_docs)
    )
    started = time.perf_counter()
    ok, _ = helpers.bulk(es, docs, chunk_size=2000, request_timeout=120)
    es.indices.refresh(index=index)
    took = time.perf_counter() - started
    replicas = es.indices.get_settings(index=index)[index]["settings"]["index"]["number_of_replicas"]
    es.indices.delete(index=index)
    return {"docs": ok, "seconds": round(took, 1), "docs_per_s": round(ok / took), "replicas": int(replicas)}


def main() -> None:
    from elasticsearch import Elasticsearch

    from movierec.config import Settings
    from movierec.escluster import LocalCluster
    from movierec.sparkcluster import LocalSparkCluster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small")
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--es-port", type=int, default=9335, help="the 1-node cluster")
    parser.add_argument("--es-port-3", type=int, default=9331, help="first port of the 3-node cluster")
    parser.add_argument("--spark-port", type=int, default=7277)
    parser.add_argument("--spark-ui-port", type=int, default=8280)
    parser.add_argument("--max-users", type=int, default=None, help="a slice of each data set (smoke runs)")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-es", action="store_true")
    args = parser.parse_args()

    out: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    one = LocalCluster(Settings(ES_URL=f"http://127.0.0.1:{args.es_port}"))
    print(one.up(1), file=sys.stderr)
    one_url = one.state().urls[0]
    try:
        if not args.skip_spark:
            spark = LocalSparkCluster(
                Path(tempfile.mkdtemp(prefix="movierec-engines-spark-")),
                port=args.spark_port,
                ui_port=args.spark_ui_port,
            )
            print(spark.up(2), file=sys.stderr)
            try:
                with tempfile.TemporaryDirectory() as runs:
                    out["pipeline"] = {
                        size: [
                            run_pipeline(size, m, one_url, Path(runs), args.max_users) for m in ("local[*]", spark.url)
                        ]
                        for size in args.sizes.split(",")
                    }
            finally:
                print(spark.down(), file=sys.stderr)
        if not args.skip_es:
            rates = {}
            with Elasticsearch(one_url, request_timeout=120) as es:
                rates["1 node"] = index_rate(es, args.docs, "bench-engines-ingest")
            three = LocalCluster(Settings(ES_URL=f"http://127.0.0.1:{args.es_port_3}"))
            print(three.up(3), file=sys.stderr)
            try:
                with Elasticsearch(three.state().urls, request_timeout=120) as es:
                    rates["3 nodes"] = index_rate(es, args.docs, "bench-engines-ingest")
            finally:
                print(three.down(), file=sys.stderr)
            out["indexing"] = rates
    finally:
        print(one.down(), file=sys.stderr)
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
