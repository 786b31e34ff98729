"""A local single-node Elasticsearch managed by the project (`movierec es up|down|status`).

The server is the `integ-test-zip` build Elastic publishes to Maven Central, fetched with
`mvn dependency:copy` and cached under `MOVIEREC_ES_HOME`. It ships no JDK, refuses to run
as root and lacks several modules of the full distribution (see README).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from movierec.config import Settings
from movierec.errors import Failed

log = logging.getLogger(__name__)

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
# Lowest JDK each server major runs on (9.x: JDK 21+; the 9.5.3 build is tested here on Temurin 25).
MIN_JDK_BY_ES_MAJOR = {7: 11, 8: 17, 9: 21}
JVM_DIRS = (Path("/usr/lib/jvm"),)


class EsNodeError(Failed):
    """A problem the user can act on; the message says what and where."""


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int


@dataclass(frozen=True)
class NodeStatus:
    url: str
    running: bool
    pid: int | None
    health: dict | None
    home: Path
    version: str

    def describe(self) -> str:
        if not self.running:
            return f"not running (would serve {self.url}; Elasticsearch {self.version} under {self.home})"
        health = self.health or {}
        return (
            f"running: pid {self.pid}, {self.url}, Elasticsearch {self.version}, "
            f"cluster '{health.get('cluster_name', '?')}' status {health.get('status', 'unknown')}, "
            f"home {self.home}"
        )


def min_jdk_for(es_version: str) -> int:
    major = int(es_version.split(".")[0])
    return MIN_JDK_BY_ES_MAJOR.get(major, 21)


def java_major(home: Path) -> int | None:
    """Major version of the JDK at `home`, read from its `release` file or `java -version`."""
    release = home / "release"
    text = ""
    if release.is_file():
        text = release.read_text(errors="replace")
    elif (home / "bin" / "java").is_file():
        proc = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
        text = proc.stderr + proc.stdout
    match = re.search(r'version\s*=?\s*"(\d+)(?:\.(\d+))?', text, re.IGNORECASE)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8".
    return int(match.group(2)) if major == 1 and match.group(2) else major


def find_jdk(es_version: str, *, env: dict[str, str] | None = None, search_dirs: tuple[Path, ...] = JVM_DIRS) -> Jdk:
    """ES_JAVA_HOME if set (and new enough), else the newest suitable JDK in `search_dirs`."""
    env = os.environ if env is None else env
    need = min_jdk_for(es_version)
    explicit = env.get("ES_JAVA_HOME")
    if explicit:
        home = Path(explicit)
        major = java_major(home) if (home / "bin" / "java").exists() else None
        if major is None:
            raise EsNodeError(f"ES_JAVA_HOME={explicit} is not a JDK (no bin/java with a readable version)")
        if major < need:
            raise EsNodeError(
                f"ES_JAVA_HOME={explicit} is JDK {major}; Elasticsearch {es_version} needs JDK {need} or newer"
            )
        return Jdk(home, major)

    seen: list[str] = []
    candidates: list[Jdk] = []
    for root in search_dirs:
        if not root.is_dir():
            seen.append(f"{root} (missing)")
            continue
        for home in sorted(root.iterdir()):
            if home.is_symlink() or not (home / "bin" / "java").exists():
                continue
            major = java_major(home)
            seen.append(f"{home} (JDK {major})")
            if major is not None and major >= need:
                candidates.append(Jdk(home, major))
    if not candidates:
        looked = ", ".join(seen) if seen else "nothing"
        raise EsNodeError(
            f"No JDK {need}+ found for Elasticsearch {es_version}: ES_JAVA_HOME is not set and "
            f"{', '.join(map(str, search_dirs))} has no suitable JDK (looked at: {looked}). "
            f"Install one (e.g. apt-get install openjdk-{need}-jdk-headless) or set ES_JAVA_HOME."
        )
    return max(candidates, key=lambda jdk: jdk.major)


def port_of(url: str) -> int:
    parts = urlsplit(url.split(",")[0].strip())
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise EsNodeError(f"ES_URL={url} is not local: `movierec es` only manages a node on this machine")
    return parts.port or 9200


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    # A stale pid file may point at a recycled pid: only a java running Elasticsearch counts.
    return not cmdline.exists() or b"elasticsearch" in cmdline.read_bytes()


@dataclass(frozen=True)
class Access:
    """How this module talks to its own nodes: plain HTTP, or TLS with our CA and a superuser."""

    cafile: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def request(self, url: str, *, method: str = "GET", body: dict | None = None, timeout: float = 10.0) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.cafile)) if self.cafile else None
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return json.loads(resp.read() or b"{}")

    def get_json(self, url: str, timeout: float = 2.0) -> dict | None:
        try:
            return self.request(url, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError):
            return None


def _get_json(url: str, timeout: float = 2.0) -> dict | None:
    return Access().get_json(url, timeout)


@dataclass(frozen=True)
class NodeSpec:
    """A node's place in a local cluster (one node: single-node discovery, no TLS)."""

    cluster_name: str
    node_name: str
    transport_ports: tuple[int, ...] = ()  # every node's, for discovery; empty: single node
    masters: tuple[str, ...] = ()
    security: bool = False
    heap: str | None = None
    repo: Path | None = None  # path.repo: the snapshot repository folder shared by the cluster


class LocalNode:
    """One node per HTTP port, so a demo node (9200) and a test node can run side by side."""

    def __init__(
        self, settings: Settings, url: str | None = None, *, spec: NodeSpec | None = None, access: Access = Access()
    ) -> None:
        self.settings = settings
        self.url = (url or settings.es_url).split(",")[0].strip().rstrip("/")
        self.port = port_of(self.url)
        self.spec = spec or NodeSpec(f"movierec-local-{self.port}", f"movierec-{self.port}")
        self.access = access
        self.version = settings.es_version
        self.home = settings.es_home
        self.dist_dir = self.home / f"elasticsearch-{self.version}"
        self.node_dir = self.home / f"node-{self.port}"
        self.pid_file = self.node_dir / "es.pid"

    # -- installation --------------------------------------------------------------

    def ensure_distribution(self) -> Path:
        if (self.dist_dir / "bin" / "elasticsearch").exists():
            return self.dist_dir
        zip_path = self.home / "dist" / f"elasticsearch-{self.version}.zip"
        if not zip_path.exists():
            self._fetch(zip_path)
        self._unpack(zip_path)
        return self.dist_dir

    def _fetch(self, zip_path: Path) -> None:
        mvn = shutil.which("mvn")
        if not mvn:
            raise EsNodeError(
                f"Maven (mvn) is needed to fetch the Elasticsearch {self.version} server build; "
                f"install it (apt-get install maven) or put elasticsearch-{self.version}.zip into {zip_path.parent}"
            )
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        artifact = ARTIFACT.format(version=self.version)
        log.info("fetching %s with Maven", artifact)
        proc = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={zip_path.parent}"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not zip_path.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise EsNodeError(f"mvn could not fetch {artifact} (exit {proc.returncode}):\n{tail}")

    def _unpack(self, zip_path: Path) -> None:
        staging = self.home / f".unpack-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in archive.infolist():
                    target = archive.extract(member, staging)
                    mode = (member.external_attr >> 16) & 0o777
                    if mode:
                        os.chmod(target, mode | (0o755 if member.is_dir() else 0o644))
        except zipfile.BadZipFile as exc:
            zip_path.unlink(missing_ok=True)
            raise EsNodeError(f"{zip_path} is not a valid zip ({exc}); removed it, run again to re-fetch") from exc
        (staging / f"elasticsearch-{self.version}").rename(self.dist_dir)
        shutil.rmtree(staging, ignore_errors=True)

    # -- lifecycle -----------------------------------------------------------------

    def read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def health(self, timeout: float = 2.0) -> dict | None:
        return self.access.get_json(f"{self.url}/_cluster/health", timeout=timeout)

    def status(self) -> NodeStatus:
        pid = self.read_pid()
        health = self.health() if pid else None
        return NodeStatus(self.url, pid is not None, pid, health, self.home, self.version)

    def up(self, *, wait_s: float = 180.0) -> str:
        pid = self.read_pid()
        if pid is not None:
            self._wait_ready(wait_s)
            return f"already running: pid {pid} at {self.url}"
        self.prepare()
        jdk = self.start()
        self._wait_ready(wait_s)
        self._apply_local_defaults()
        return f"started: pid {self.read_pid()} at {self.url} (JDK {jdk.major})"

    def prepare(self) -> Path:
        """Check the ports, fetch and unpack the server, write the node's configuration folder."""
        for port in (self.port, self.port + 100):
            if port_in_use(port):
                raise EsNodeError(
                    f"port {port} on 127.0.0.1 is taken by another process, not a movierec node "
                    f"(no live pid in {self.pid_file}); stop it or point ES_URL at another port"
                )
        self.jdk = find_jdk(self.version)
        self.ensure_distribution()
        return self._write_config()

    def tool(self, name: str, *args: str, stdin: str | None = None) -> str:
        """Run one of the distribution's CLI tools (elasticsearch-users, -keystore) on this node's config."""
        env = {**os.environ, "ES_JAVA_HOME": str(self._jdk().home), "ES_PATH_CONF": str(self.node_dir / "config")}
        proc = subprocess.run(
            [str(self.dist_dir / "bin" / name), *args], env=env, input=stdin, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise EsNodeError(f"{name} {args[0] if args else ''} failed (exit {proc.returncode}): {proc.stderr[-500:]}")
        return proc.stdout

    def _jdk(self) -> Jdk:
        """The JDK found by prepare(), or found now for a node prepared by an earlier process (a
        cluster member started again, a tool run on a running cluster)."""
        if getattr(self, "jdk", None) is None:
            self.jdk = find_jdk(self.version)
        return self.jdk

    def start(self) -> Jdk:
        """Start the node's process (daemonised); does not wait for the cluster."""
        jdk = self._jdk()
        conf_dir = self.node_dir / "config"
        user = self._run_user()
        heap = self.spec.heap or self.settings.es_heap
        env_vars = {
            "ES_JAVA_HOME": str(jdk.home),
            "ES_PATH_CONF": str(conf_dir),
            "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        }
        cmd = [str(self.dist_dir / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file)]
        if user:
            cmd = ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env_vars.items()), *cmd]
            env = os.environ.copy()
        else:
            env = {**os.environ, **env_vars}
        log.info("starting Elasticsearch %s on %s with JDK %s (%s)", self.version, self.url, jdk.major, jdk.home)
        startup_log = self.node_dir / "logs" / "startup.log"
        with startup_log.open("w") as out:
            proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise EsNodeError(
                f"Elasticsearch failed to start (exit {proc.returncode}); last lines of {startup_log}:\n"
                + self._tail(startup_log)
            )
        return jdk

    def down(self, *, wait_s: float = 60.0) -> str:
        pid = self.read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return f"not running at {self.url}"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.2)
        if _pid_alive(pid):
            log.warning("Elasticsearch pid %s ignored SIGTERM for %.0fs; killing it", pid, wait_s)
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped: pid {pid}"

    # -- helpers -------------------------------------------------------------------

    def _run_user(self) -> str | None:
        """ES refuses to run as root: when we are root, run it as an unprivileged system user."""
        if os.geteuid() != 0:
            return None
        user = self.settings.es_user
        if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
            proc = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise EsNodeError(f"could not create the unprivileged user '{user}' for Elasticsearch: {proc.stderr}")
        subprocess.run(["chown", "-R", f"{user}:", str(self.node_dir)], check=True)
        probe = subprocess.run(
            ["runuser", "-u", user, "--", "test", "-x", str(self.dist_dir / "bin" / "elasticsearch")]
        )
        if probe.returncode != 0:
            raise EsNodeError(
                f"user '{user}' cannot read {self.dist_dir}: a parent folder is not world-readable; "
                "set MOVIEREC_ES_HOME to a folder other users can read (e.g. /opt/movierec-es)"
            )
        return user

    def _write_config(self) -> Path:
        conf_dir = self.node_dir / "config"
        marker = conf_dir / ".movierec-es-version"
        if conf_dir.exists() and (not marker.is_file() or marker.read_text().strip() != self.version):
            # Another server version on this port's data (an upgrade, e.g. 8.19 -> 9.5): the data folder
            # stays, the config files (jvm.options, log4j2) come from the version that now runs it.
            log.info("node folder %s moves to Elasticsearch %s: fresh config files", self.node_dir, self.version)
            shutil.rmtree(conf_dir)
        if not conf_dir.exists():
            shutil.copytree(self.dist_dir / "config", conf_dir)
            marker.write_text(self.version + "\n")
        for sub in ("data", "logs"):
            (self.node_dir / sub).mkdir(parents=True, exist_ok=True)
        spec = self.spec
        settings: dict = {
            "cluster.name": spec.cluster_name,
            "node.name": spec.node_name,
            "path.data": str(self.node_dir / "data"),
            "path.logs": str(self.node_dir / "logs"),
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": self.port + 100,
            # A laptop or CI disk is often >90% full; that must not make indices read-only.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            # No `DELETE *`: every delete names its indices (tests resolve their prefix first).
            "action.destructive_requires_name": True,
        }
        if spec.repo is not None:
            settings["path.repo"] = [str(spec.repo)]
        if spec.transport_ports:
            settings["discovery.seed_hosts"] = [f"127.0.0.1:{p}" for p in spec.transport_ports]
            settings["cluster.initial_master_nodes"] = list(spec.masters)
            # A killed node closes its sockets and is dropped at once; a hung one is noticed only when
            # 3 checks in a row time out: with the default 10 s timeout ~33 s, with 3 s ~12 s, so a
            # hung primary's replica is promoted sooner. Not lower: a 512 MB node on a loaded machine
            # can pause for a second or two, and a false removal moves shards for nothing.
            for check in ("follower_check", "leader_check"):
                settings[f"cluster.fault_detection.{check}.interval"] = "1s"
                settings[f"cluster.fault_detection.{check}.timeout"] = "3s"
                settings[f"cluster.fault_detection.{check}.retry_count"] = 3
        else:
            settings["discovery.type"] = "single-node"
        settings["xpack.security.enabled"] = spec.security
        if spec.security:
            for layer in ("http", "transport"):
                settings[f"xpack.security.{layer}.ssl.enabled"] = True
                settings[f"xpack.security.{layer}.ssl.key"] = "certs/node.key"
                settings[f"xpack.security.{layer}.ssl.certificate"] = "certs/node.crt"
                settings[f"xpack.security.{layer}.ssl.certificate_authorities"] = ["certs/ca.crt"]
            settings["xpack.security.transport.ssl.verification_mode"] = "certificate"
        lines = [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
        (conf_dir / "elasticsearch.yml").write_text("\n".join(lines) + "\n")
        return conf_dir

    def _wait_ready(self, wait_s: float, nodes: int = 1) -> None:
        deadline = time.monotonic() + wait_s
        query = f"wait_for_status=yellow&wait_for_nodes=%3E%3D{nodes}&timeout=1s"
        while time.monotonic() < deadline:
            health = self.access.get_json(f"{self.url}/_cluster/health?{query}")
            if health and health.get("status") in ("yellow", "green"):
                return
            if self.pid_file.exists() and self.read_pid() is None:
                break
            time.sleep(0.5)
        logs = sorted((self.node_dir / "logs").glob("*.log"))
        detail = "\n".join(f"--- {p}\n{self._tail(p)}" for p in logs[-2:])
        raise EsNodeError(f"Elasticsearch at {self.url} did not become ready within {wait_s:.0f}s\n{detail}")

    def _apply_local_defaults(self) -> None:
        """One node has nowhere to put replicas: default every new index to 0 so health stays green."""
        body = {"index_patterns": ["*"], "priority": 0, "template": {"settings": {"number_of_replicas": 0}}}
        self.access.request(f"{self.url}/_index_template/movierec-local-defaults", method="PUT", body=body)

    @staticmethod
    def _tail(path: Path, lines: int = 20) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"({path} unreadable)"
