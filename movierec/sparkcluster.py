"""A local standalone Spark cluster (`movierec spark up|status|down`), from the Spark in `pyspark`.

A master and N workers, each its own JVM started with `spark-class`, all bound to 127.0.0.1
(SPARK_LOCAL_IP covers the RPC endpoints and the web UIs). Pids and logs live under the runs
folder. The pipeline uses it with `SPARK_MASTER=spark://127.0.0.1:7077`; a real cluster is the same
URL pointing elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from movierec.errors import Failed

HOST = "127.0.0.1"


class SparkClusterError(Failed):
    """The cluster could not be started, reached or stopped; the message says what and where."""


def check_master(master: str, timeout_s: float = 3.0) -> None:
    """A `spark://host:port` master must accept connections, or the run would end in a Java stack trace
    ("All masters are unresponsive! Giving up.") after about a minute of retries; other masters pass."""
    if not master.startswith("spark://"):
        return
    for hostport in master.removeprefix("spark://").split(","):  # standby masters: one answering is enough
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return
        except (OSError, ValueError):
            continue
    raise SparkClusterError(
        f"SPARK_MASTER={master}: no Spark master accepts connections there; start one "
        "(`movierec spark up`) or set SPARK_MASTER (local[*] runs in this process)"
    )


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass(frozen=True)
class Worker:
    cores: int = 1
    memory: str = "1g"


class LocalSparkCluster:
    def __init__(self, home: Path, *, port: int = 7077, ui_port: int = 8080) -> None:
        self.home = Path(home)
        self.port = port
        self.ui_port = ui_port

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def ui(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": HOST}
        env["SPARK_LOG_DIR"] = str(self.home / "logs")
        return env

    def _pids(self) -> dict[str, int]:
        pids = {}
        for path in sorted((self.home / "pids").glob("*.pid")):
            try:
                pid = int(path.read_text().strip())
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, PermissionError):
                path.unlink(missing_ok=True)
                continue
            pids[path.stem] = pid
        return pids

    def _start(self, name: str, *args: str) -> int:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        (self.home / "pids").mkdir(parents=True, exist_ok=True)
        log = (self.home / "logs" / f"{name}.log").open("ab")
        cmd = [str(spark_home() / "bin" / "spark-class"), *args]
        proc = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.home / "pids" / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def state(self) -> dict | None:
        """The master's JSON status (workers, cores, applications), or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.ui}/json/", timeout=3) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def up(self, workers: int = 2, *, worker: Worker = Worker(), wait_s: float = 120.0) -> str:
        if not 1 <= workers <= 8:
            raise ValueError(f"workers must be 1..8, got {workers}")
        running = self._pids()
        if "master" not in running:
            if _port_open(self.port) or _port_open(self.ui_port):
                raise SparkClusterError(
                    f"port {self.port} or {self.ui_port} on {HOST} is taken by another process: stop it or "
                    "choose other ports"
                )
            self._start(
                "master",
                "org.apache.spark.deploy.master.Master",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            )
        for i in range(workers):
            name = f"worker-{i + 1}"
            if name in running:
                continue
            work_dir = self.home / "work" / name
            work_dir.mkdir(parents=True, exist_ok=True)
            self._start(
                name,
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                HOST,
                "--cores",
                str(worker.cores),
                "--memory",
                worker.memory,
                "--webui-port",
                str(self.ui_port + 1 + i),
                "--work-dir",
                str(work_dir),
                self.url,
            )
        deadline = time.monotonic() + wait_s
        while True:
            state = self.state()
            alive = [w for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE"]
            if len(alive) >= workers:
                return f"Spark master {self.url} (UI {self.ui}) with {len(alive)} workers; logs in {self.home / 'logs'}"
            if time.monotonic() > deadline:
                raise SparkClusterError(
                    f"{len(alive)} of {workers} workers registered with {self.url} after {wait_s:.0f} s; "
                    f"see {self.home / 'logs'}"
                )
            time.sleep(1)

    def status(self) -> str:
        pids = self._pids()
        if not pids:
            return f"not running (would serve {self.url}, UI {self.ui})"
        state = self.state() or {}
        lines = [f"master {self.url}, UI {self.ui}, status {state.get('status', 'not answering')}"]
        for w in state.get("workers", []):
            lines.append(f"  worker {w.get('id')}: {w.get('state')}, {w.get('cores')} cores, {w.get('memory')} MB")
        lines.append("  pids: " + ", ".join(f"{name} {pid}" for name, pid in pids.items()))
        return "\n".join(lines)

    def down(self, wait_s: float = 30.0) -> str:
        pids = self._pids()
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
            time.sleep(0.3)
        for name, pid in pids.items():
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
            (self.home / "pids" / f"{name}.pid").unlink(missing_ok=True)
        return f"stopped {len(pids)} Spark processes" if pids else "nothing was running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of this process still answers kill 0: reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0
