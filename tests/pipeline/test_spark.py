"""The local Spark driver listens on loopback only, and stop_session ends its JVM (the demo serves next)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.spark

PROBE = r"""
import os, socket, sys
from movierec.pipeline.spark import build_session, stop_session
from pyspark import SparkContext

spark = build_session("local[1]", driver_memory="512m", app_name="movierec-probe")
spark.range(10).count()
pid = SparkContext._gateway.proc.pid
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if target.startswith("socket:["):
        inodes.add(target[8:-1])
listening = []
for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
    for line in open(table).read().splitlines()[1:]:
        cols = line.split()
        if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
            addr = cols[1].split(":")[0]
            raw = bytes.fromhex(addr)
            if family == 4:
                listening.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                listening.append(socket.inet_ntop(socket.AF_INET6, words))
print("LISTEN", ",".join(sorted(set(listening))))
stop_session(spark)
alive = os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
print("JVM_ALIVE", alive)
"""


def test_the_local_driver_listens_on_loopback_only_and_stop_session_ends_its_jvm():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("LISTEN", "JVM_ALIVE")))
    addresses = out["LISTEN"].split(",")
    assert addresses and set(addresses) <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, addresses
    assert out["JVM_ALIVE"] == "False"


def test_shuffle_partitions_follow_the_input_size_unless_the_caller_fixed_them(spark):
    from movierec.pipeline.spark import SHUFFLE_BYTES_PER_PARTITION, size_shuffle_partitions

    before = spark.conf.get("spark.sql.shuffle.partitions")
    cores = spark.sparkContext.defaultParallelism
    assert size_shuffle_partitions(spark, 10 * SHUFFLE_BYTES_PER_PARTITION) == int(before)  # the fixture fixed them
    spark.conf.set("spark.movierec.shuffle.fixed", "false")
    try:
        assert size_shuffle_partitions(spark, 3_000_000) == cores  # the bundled data: one per core
        assert size_shuffle_partitions(spark, 10 * SHUFFLE_BYTES_PER_PARTITION + 1) == 11
        assert spark.conf.get("spark.sql.shuffle.partitions") == "11"
    finally:
        spark.conf.set("spark.movierec.shuffle.fixed", "true")
        spark.conf.set("spark.sql.shuffle.partitions", before)
