"""deploy/k8s: every manifest through kubernetes-validate --strict (schemas ship with it, no network)."""

import pytest

from tests.deploy.helpers import K8S, load_all_yaml, load_yaml, run, tool

# The oldest Kubernetes the manifests are meant for (CronJob timeZone, autoscaling/v2) and the newest
# that kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
KUSTOMIZATION = load_yaml(K8S / "kustomization.yaml")
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def resource(kind: str) -> dict:
    (found,) = [d for p in MANIFESTS for d in load_all_yaml(p) if d["kind"] == kind]
    return found


def container(kind: str) -> dict:
    obj = resource(kind)
    spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
    (only,) = spec["template"]["spec"]["containers"]
    return only


def pod_spec(kind: str) -> dict:
    obj = resource(kind)
    spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
    return spec["template"]["spec"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(version):
    validate = tool("kubernetes-validate")
    assert validate, "kubernetes-validate is missing: pip install -e '.[dev]'"
    result = run(validate, "--strict", "--quiet", "-k", version, *map(str, MANIFESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr


def test_kustomization_lists_every_manifest():
    assert sorted(KUSTOMIZATION["resources"]) == sorted(p.name for p in MANIFESTS)


def test_rendered_kustomization_validates(tmp_path):
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the manifests are validated one by one above")
    rendered = run(kubectl, "kustomize", str(K8S))
    assert rendered.returncode == 0, rendered.stderr
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.stdout)
    kinds = sorted(d["kind"] for d in load_all_yaml(out))
    assert kinds == sorted(d["kind"] for p in MANIFESTS for d in load_all_yaml(p))
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_deployment_two_replicas_probes_resources_non_root():
    deployment = resource("Deployment")
    assert deployment["spec"]["replicas"] == 2
    api = container("Deployment")
    # Readiness follows Elasticsearch; liveness only the process (an ES outage must not restart pods).
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"cpu", "memory"} <= set(api["resources"]["requests"]) & set(api["resources"]["limits"])
    pod = pod_spec("Deployment")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert api["securityContext"]["allowPrivilegeEscalation"] is False


def test_settings_come_from_the_configmap_and_es_api_key_from_a_secret():
    configmap = resource("ConfigMap")
    assert {"ES_URL", "SPARK_MASTER", "MOVIEREC_INDEX_PREFIX"} <= set(configmap["data"])
    assert configmap["data"]["SPARK_MASTER"] == "local[*]"
    for kind in ("Deployment", "CronJob"):
        c = container(kind)
        assert c["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}], kind
        (key,) = [e for e in c["env"] if e["name"] == "ES_API_KEY"]
        assert key["valueFrom"]["secretKeyRef"]["key"] == "ES_API_KEY", kind


def test_hpa_scales_the_api_deployment():
    hpa = resource("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "movierec-api"}
    assert hpa["spec"]["minReplicas"] == resource("Deployment")["spec"]["replicas"]


def test_service_selects_the_api_pods():
    service = resource("Service")
    labels = resource("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_pipeline_cronjob_runs_the_pipeline_as_non_root():
    pipeline = container("CronJob")
    assert pipeline["command"] == ["movierec", "pipeline", "run"]
    assert pod_spec("CronJob")["securityContext"]["runAsNonRoot"] is True
    assert resource("CronJob")["spec"]["concurrencyPolicy"] == "Forbid"
