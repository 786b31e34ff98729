"""Pipeline stage timings, peak memory and Elasticsearch ingest rate.

    movierec es up
    .venv/bin/python benchmarks/pipeline.py [--sizes small,1m,10m]

`small` is the bundled ml-latest-small; `1m`/`10m` are synthetic MovieLens-shaped sets
(`movierec data synth`), generated once under /tmp/movierec-synth-<size>. Each dataset runs in its
own process, so peak memory is per run: the Spark JVM's VmHWM and the Python driver's max RSS.
Tuning is excluded; the evaluate stage is included. Indices go under a `bench-` prefix and are
deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from movierec import resources
from movierec.config import Settings

STAGES = ("load", "clean", "features", "evaluate", "train", "vectors", "index")
SYNTH = {"1m": 1_000_000, "10m": 10_000_000, "25m": 25_000_000}


def dataset_folder(size: str) -> Path:
    if size == "small":
        return resources.bundled_dataset()
    folder = Path(f"/tmp/movierec-synth-{size}")
    if not (folder / "ratings.csv").is_file():
        from movierec.pipeline.synth import synthesize

        started = time.perf_counter()
        stats = synthesize(folder, SYNTH[size])
        print(f"generated {folder}: {stats} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return folder


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(size: str, evaluate: bool = True) -> dict:
    from elasticsearch import Elasticsearch

    from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
    from movierec.pipeline.spark import build_session

    folder = dataset_folder(size)
    settings = Settings(MOVIEREC_INDEX_PREFIX=f"bench-{size}-", MOVIEREC_RUNS_DIR="/tmp/movierec-bench-runs")
    es = Elasticsearch(settings.es_url, request_timeout=120)
    spark = build_session(settings.spark_master, settings.spark_driver_memory, app_name=f"movierec-bench-{size}")
    jvm_pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    try:
        report = run_pipeline(
            spark,
            PipelineConfig.of(settings),
            RunOptions(data=folder, evaluate=evaluate),
            es,
            progress=lambda line: print(line, file=sys.stderr),
        )
        jvm_peak = vm_hwm_mb(jvm_pid)
    finally:
        spark.stop()
        stale = list(es.indices.get(index="bench-*", expand_wildcards="all", ignore_unavailable=True))
        if stale:
            es.indices.delete(index=",".join(stale))
    stages = {name: secs for name, secs, _ in report.stages}
    docs = report.counts["movies"] + report.counts["users"] + report.counts["ratings"]
    return {
        "dataset": "ml-latest-small" if size == "small" else f"synthetic {size}",
        "ratings": report.counts["ratings"],
        "stages": stages,
        "total": sum(stages.values()),
        "docs_per_s": docs / stages["index"],
        "jvm_peak_mb": jvm_peak,
        "py_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "driver_memory": settings.spark_driver_memory,
        "ndcg": report.metrics.get("als", {}).get("ndcg"),
        # Item 5 of issue 16: end to end over the ALS training stage of the same run (tuning excluded).
        "x_train": sum(stages.values()) / stages["train"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,1m,10m")
    parser.add_argument("--no-evaluate", action="store_true", help="the demo's mode: no evaluate stage")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, evaluate=not args.no_evaluate)))
        return
    rows = []
    for size in args.sizes.split(","):
        one = [sys.executable, __file__, "--one", size, *(["--no-evaluate"] if args.no_evaluate else [])]
        proc = subprocess.run(one, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f"{size}: failed (exit {proc.returncode})", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    header = f"{'dataset':<18} {'ratings':>10} " + " ".join(f"{s:>8}" for s in STAGES)
    print(header + f" {'total s':>8} {'x train':>7} {'docs/s':>8} {'JVM MB':>7} {'py MB':>6}")
    for r in rows:
        cells = " ".join(f"{r['stages'].get(s, float('nan')):>8.1f}" for s in STAGES)
        print(
            f"{r['dataset']:<18} {r['ratings']:>10} {cells} {r['total']:>8.1f} {r['x_train']:>7.1f} "
            f"{r['docs_per_s']:>8.0f} "
            f"{r['jvm_peak_mb']:>7.0f} {r['py_peak_mb']:>6.0f}"
        )
    memory = rows[0]["driver_memory"] if rows else "?"
    print(f"(Spark local[*] on {__import__('os').cpu_count()} cores, driver memory {memory})")


if __name__ == "__main__":
    main()
