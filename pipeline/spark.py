"""SparkSession construction: `local[*]` by default, a cluster when SPARK_MASTER says so."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession


def _on_this_machine(master: str) -> bool:
    return master.startswith("local") or master.startswith(("spark://127.0.0.1:", "spark://localhost:"))


def executor_count(spark: SparkSession) -> int:
    """Executors registered with the driver (0 in local mode, where the driver runs the tasks)."""
    if spark.sparkContext.master.startswith("local"):
        return 0
    return spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1


REDACTION_REGEX = r"(?i)secret|password|token|access[.]?key|api[._-]?key|credential|auth"


def build_session(
    master: str = "local[*]", driver_memory: str = "2g", app_name: str = "movierec", **conf: str
) -> SparkSession:
    # Executors must run the same interpreter as the driver (UDFs, foreachPartition export).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")  # until size_shuffle_partitions sees the data
        # Adaptive execution splits each query into a job per shuffle stage and re-plans between them;
        # on the bundled data (one run, same load) the clean stage went from 26 jobs / 36.7 s with it to
        # 10 jobs / 17.6 s without, features 12.8 -> 7.3 s. What it adapts (partition counts) is sized from
        # the input instead (size_shuffle_partitions); the joins with small sides are broadcast by hint.
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        # Spark's default redaction misses ES_API_KEY-style names; values of matching keys are
        # hidden in the UI's environment tab and in event logs.
        .config("spark.redaction.regex", REDACTION_REGEX)
    )
    if _on_this_machine(master):
        # Driver RPC and block manager on loopback only (the default is the machine's external address).
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for key, value in conf.items():
        builder = builder.config(key, value)
    if "spark.sql.shuffle.partitions" in conf:  # the caller's choice wins over size_shuffle_partitions
        builder = builder.config("spark.movierec.shuffle.fixed", "true")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# A shuffle partition per this many input bytes (CSV): about 1.5M ratings, so a task stays well under
# the default 2 GB driver's share and the 2 cores of local[*] are both used on the bundled data.
SHUFFLE_BYTES_PER_PARTITION = 48 << 20


def size_shuffle_partitions(spark: SparkSession, input_bytes: int) -> int:
    """Shuffle partitions from the data's size (at least one per core), unless the caller set them."""
    if spark.conf.get("spark.movierec.shuffle.fixed", "false") == "true":
        return int(spark.conf.get("spark.sql.shuffle.partitions"))
    cores = spark.sparkContext.defaultParallelism
    count = max(cores, -(-input_bytes // SHUFFLE_BYTES_PER_PARTITION))
    spark.conf.set("spark.sql.shuffle.partitions", str(count))
    return count


def stop_session(spark: SparkSession) -> None:
    """Stop the session and the JVM behind it (`spark.stop()` leaves the gateway JVM running, 1.1 GB
    in the demo, which serves from the same process afterwards). A later build_session starts a new one."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    if proc is not None:
        if proc.stdin is not None:
            proc.stdin.close()  # the JVM exits when its stdin closes
        try:
            proc.wait(timeout=30)
        except Exception:
            proc.kill()
            proc.wait(timeout=10)
    SparkContext._gateway = None
    SparkContext._jvm = None
