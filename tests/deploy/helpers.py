"""Helpers for the deployment validators: where the repo is, how to find a validator's executable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
# The validators come with `.[dev]`: their executables sit beside this interpreter (the venv's bin).
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    """The venv's copy of `name` if there is one, else the one on PATH."""
    local = VENV_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def run(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a validator with the venv's bin first on PATH; output captured as text, never raises."""
    full_env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=full_env, check=False, **kwargs)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def procfile() -> dict[str, str]:
    """Process type -> command, as a Procfile platform reads it."""
    entries = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries
