import logging

import pytest

from movierec.config import Settings
from movierec.connection import RETRY_ON_STATUS, EsConnection, mask
from movierec.errors import BadInput

SECRET = "c2VjcmV0LWtleS1kby1ub3Qtc2hvdw=="


def test_several_nodes_are_all_given_to_the_client_with_bounded_retries():
    conn = EsConnection.parse(" http://a:9200/, http://b:9201 ,", request_timeout=3, max_retries=2)
    kwargs = conn.client_kwargs()
    assert kwargs["hosts"] == ["http://a:9200", "http://b:9201"]
    assert kwargs["max_retries"] == 2 and kwargs["retry_on_status"] == RETRY_ON_STATUS == (502, 503, 504)
    assert kwargs["retry_on_timeout"] is True and kwargs["request_timeout"] == 3


def test_api_key_in_both_forms_and_basic_auth():
    assert EsConnection(api_key=SECRET).client_kwargs()["api_key"] == SECRET
    assert EsConnection(api_key="id1:key1").client_kwargs()["api_key"] == ("id1", "key1")
    assert EsConnection(username="u", password="p").client_kwargs()["basic_auth"] == ("u", "p")
    cloud = EsConnection(hosts=(), cloud_id="deploy:ZXhhbXBsZQ==", api_key=SECRET).client_kwargs()
    assert cloud["cloud_id"] == "deploy:ZXhhbXBsZQ==" and "hosts" not in cloud


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": ("localhost:9200",)}, "not an http:// or https:// URL"),
        ({"username": "elastic"}, "ES_USERNAME and ES_PASSWORD go together"),
        ({"ca_certs": "/nonexistent/ca.crt"}, "ES_CA_CERTS=/nonexistent/ca.crt: no such file"),
        ({"hosts": ()}, "nowhere to connect"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(BadInput, match=message):
        EsConnection(**kwargs)


def test_secrets_never_appear_in_repr_or_description(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    conn = EsConnection(hosts=("https://n1:9200",), api_key=SECRET, ca_certs=str(ca), verify_certs=False)
    for text in (repr(conn), conn.describe(), str(conn)):
        assert SECRET not in text
    assert "certificates NOT verified" in conn.describe() and "auth: api key" in conn.describe()
    assert mask(SECRET) == "****" and mask(None) == "(not set)"


def test_settings_build_the_connection_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ES_URL", "https://a:9200,https://b:9200")
    monkeypatch.setenv("ES_API_KEY", SECRET)
    monkeypatch.setenv("ES_VERIFY_CERTS", "false")
    settings = Settings()
    assert SECRET not in repr(settings)
    conn = settings.es_connection()
    assert conn.hosts == ("https://a:9200", "https://b:9200") and conn.api_key == SECRET and not conn.verify_certs


def test_check_masks_every_secret(monkeypatch, capsys):
    from movierec.doctor import run_checks

    monkeypatch.setenv("ES_API_KEY", SECRET)
    monkeypatch.setenv("ES_PASSWORD", "hunter2-password")
    monkeypatch.setenv("ES_USERNAME", "elastic")
    monkeypatch.setenv("MOVIEREC_API_KEY", "api-secret-value")
    lines: list[str] = []
    run_checks(Settings(), lines.append)
    text = "\n".join(lines)
    assert "ES_API_KEY=****" in text and "MOVIEREC_API_KEY=****" in text
    for secret in (SECRET, "hunter2-password", "api-secret-value"):
        assert secret not in text


def test_unverified_certificates_are_warned_about_once(caplog):
    from movierec.search import client

    client._warned_unverified = False
    conn = EsConnection(hosts=("https://127.0.0.1:1",), verify_certs=False)
    with caplog.at_level(logging.WARNING, logger="movierec.search.client"):
        for _ in range(3):
            client.sync_client(conn).close()
    assert sum("ES_VERIFY_CERTS=false" in r.message for r in caplog.records) == 1


@pytest.mark.spark
def test_spark_redacts_api_key_settings(spark):
    import re

    from movierec.pipeline.spark import REDACTION_REGEX

    assert spark.sparkContext.getConf().get("spark.redaction.regex") == REDACTION_REGEX
    for name in ("ES_API_KEY", "spark.executorEnv.ES_API_KEY", "KIBANA_PASSWORD", "es.net.http.auth.pass"):
        assert re.search(REDACTION_REGEX, name), name


def test_the_readme_shows_the_roles_the_code_defines():
    import json
    import re
    from pathlib import Path

    from movierec.roles import api_role, pipeline_role

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**Least privilege**") :]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, flags=re.S)[:2]]
    assert blocks == [pipeline_role(), api_role()]
