"""The wheel works anywhere: built from this checkout, installed into a fresh venv outside it.

`movierec --help`, `movierec catalog --json` and importing every module must work there, with
mappings, dashboards and the MovieLens sample read from site-packages; nothing generic
(`search`, `pipeline`, `service`) may be installed at top level.
"""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*cmd, cwd, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel and its dependencies (pip's cache makes this ~1 minute)."""
    root = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "build", "--wheel", "--outdir", root / "dist", REPO, cwd=root)
    (wheel,) = (root / "dist").glob("movierec-*.whl")
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, cwd=root)
    # Outside the checkout, with nothing of it on the path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(root / "home")
    return root, python, env, wheel


@pytest.mark.slow
def test_the_cli_runs_from_the_installed_wheel(installed):
    root, python, env, _ = installed
    movierec = python.parent / "movierec"
    assert "pipeline" in run(movierec, "--help", cwd=root, env=env)
    catalog = json.loads(run(movierec, "catalog", "--json", cwd=root, env=env))
    assert {entry["kind"] for entry in catalog} >= {"movies", "users", "ratings"}


@pytest.mark.slow
def test_every_module_imports_from_site_packages_and_nothing_generic_is_installed(installed):
    root, python, env, _ = installed
    script = """
import importlib, importlib.util, json, pkgutil
import movierec
from movierec import resources
names = [m.name for m in pkgutil.walk_packages(movierec.__path__, "movierec.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "modules": names,
    "file": movierec.__file__,
    "mappings": str(resources.mappings_dir()),
    "ratings_csv": (resources.bundled_dataset() / "ratings.csv").is_file(),
    "dashboards": resources.dashboards_file().is_file(),
    "generic": [n for n in ("search", "pipeline", "service", "mappings") if importlib.util.find_spec(n)],
}))
"""
    out = json.loads(run(python, "-c", script, cwd=root, env=env).splitlines()[-1])
    assert "site-packages" in out["file"] and str(REPO) not in out["file"]
    assert "site-packages" in out["mappings"]
    assert out["ratings_csv"] and out["dashboards"]
    assert out["generic"] == []
    assert {"movierec.service.main", "movierec.pipeline.run", "movierec.search.recommend"} <= set(out["modules"])


@pytest.mark.slow
def test_the_wheel_states_both_licenses(installed):
    import zipfile

    *_, wheel = installed
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
        licenses = [n for n in zf.namelist() if "/licenses/" in n]
    assert "License-Expression: MIT AND LicenseRef-MovieLens" in text
    assert any(n.endswith("LICENSE") for n in licenses) and any(n.endswith("README.txt") for n in licenses)


@pytest.mark.slow
@pytest.mark.spark
def test_pipeline_run_without_data_uses_the_sample_in_the_wheel(installed):
    root, python, env, _ = installed
    env = {**env, "MOVIEREC_RUNS_DIR": str(root / "runs"), "SPARK_MASTER": "local[2]"}
    out = run(
        python.parent / "movierec",
        "pipeline",
        "run",
        "--no-index",
        "--no-evaluate",
        "--max-users",
        "30",
        cwd=root,
        env=env,
    )
    assert "site-packages" in out and "ml-latest-small" in out
    (card,) = (root / "runs").glob("*/model_card.json")
    assert "site-packages" in json.loads(card.read_text())["dataset"]
