"""Prerequisite checks behind `movierec check` (run by `make test` and `make demo`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from movierec.config import Settings
from movierec.connection import mask
from movierec.errors import BadInput
from movierec.escompat import CLIENT_VERSION, server_version_at
from movierec.esnode import EsNodeError, find_jdk, java_major

SPARK_MIN_JAVA = 17


def spark_java() -> tuple[Path | None, int | None]:
    """The Java that PySpark will launch: JAVA_HOME if set, else `java` on PATH."""
    if os.environ.get("JAVA_HOME"):
        home = Path(os.environ["JAVA_HOME"])
    else:
        java = shutil.which("java")
        if not java:
            return None, None
        home = Path(java).resolve().parent.parent
    return home, java_major(home)


def run_checks(settings: Settings, echo: Callable[[str], object]) -> int:
    problems = 0
    home, major = spark_java()
    if major is None or major < SPARK_MIN_JAVA:
        problems += 1
        echo(f"FAIL  Spark needs Java {SPARK_MIN_JAVA}+ (JAVA_HOME or java on PATH); found {home or 'none'} ({major})")
    else:
        echo(f"ok    Spark: Java {major} at {home}")
    try:
        jdk = find_jdk(settings.es_version)
        echo(f"ok    Elasticsearch {settings.es_version}: JDK {jdk.major} at {jdk.home}")
    except EsNodeError as exc:
        problems += 1
        echo(f"FAIL  {exc}")
    cached = (settings.es_home / f"elasticsearch-{settings.es_version}").is_dir()
    if cached:
        echo(f"ok    Elasticsearch {settings.es_version} unpacked under {settings.es_home}")
    elif shutil.which("mvn"):
        echo(f"ok    Maven found: Elasticsearch {settings.es_version} will be fetched on first `movierec es up`")
    else:
        problems += 1
        echo("FAIL  Maven (mvn) is needed once to fetch the Elasticsearch server build: apt-get install maven")
    problems += check_es_home(settings, echo)
    try:
        echo(f"ok    Elasticsearch connection: {settings.es_connection().describe()}")
    except BadInput as exc:
        problems += 1
        echo(f"FAIL  {exc}")
    secrets = {"ES_API_KEY": settings.es_api_key, "ES_PASSWORD": settings.es_password}
    secrets["MOVIEREC_API_KEY"] = settings.api_key
    shown = ", ".join(f"{name}={mask(_plain(value))}" for name, value in secrets.items())
    echo(f"ok    secrets: {shown}")
    check_server(settings.es_url.split(",")[0].strip(), echo)
    return problems


def _plain(value: object) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def check_server(url: str, echo: Callable[[str], object]) -> bool:
    """Whether a server at ES_URL is one this client can talk to (none there is fine).

    A mismatch is a WARN, not a missing prerequisite: `make test` runs its own node and must not fail
    because of another server on ES_URL; the demo, the pipeline and `/health` do depend on it."""
    version = server_version_at(url)
    if version is None:
        echo(f"ok    no Elasticsearch answering at {url} (`movierec es up` starts one)")
        return True
    problem = version.problem()
    if problem:
        echo(f"WARN  {url}: {problem}")
        return False
    echo(f"ok    Elasticsearch {version.number} at {url} (Python client {CLIENT_VERSION})")
    return True


def _readable_by_everyone(path: Path) -> Path | None:
    """The first existing folder from / down to `path` that others cannot enter, or None."""
    current = Path("/")
    for part in path.resolve().parts[1:]:
        current = current / part
        if not current.exists():
            return None
        if not current.stat().st_mode & 0o001:
            return current
    return None


def check_es_home(settings: Settings, echo: Callable[[str], object]) -> int:
    """As root the node runs as MOVIEREC_ES_USER, which must reach MOVIEREC_ES_HOME: a folder only root
    can enter (root's home, a `mktemp -d` folder) above it is something `es up` cannot fix."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return 0
    blocked = _readable_by_everyone(settings.es_home)
    if blocked is None:
        echo(f"ok    MOVIEREC_ES_HOME {settings.es_home}: the node runs as '{settings.es_user}', who can reach it")
        return 0
    echo(
        f"FAIL  MOVIEREC_ES_HOME {settings.es_home} is under {blocked}, which user '{settings.es_user}' (the node, "
        "since Elasticsearch refuses root) cannot enter: unset it (default /var/lib/movierec/es) or pick another folder"
    )
    return 1
