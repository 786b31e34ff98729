"""Import the saved objects in dashboards/ into Kibana (`movierec dashboards import`).

The objects are built at import time for the configured index prefix (`MOVIEREC_INDEX_PREFIX`), so
the index patterns and the Vega queries name this deployment's indices. Kibana authentication comes
from Settings (`KIBANA_API_KEY`, or `KIBANA_USERNAME` and `KIBANA_PASSWORD`); secrets are sent in the
Authorization header only and never appear in a message.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr

from movierec.errors import BadInput, Failed
from movierec.resources import dashboards_file

DASHBOARDS = dashboards_file()


class KibanaError(Failed):
    pass


def auth_headers(
    api_key: SecretStr | str | None = None, username: str | None = None, password: SecretStr | str | None = None
) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    """(headers, basic auth) for Kibana: an API key wins over a user name and password."""

    def reveal(value: SecretStr | str | None) -> str | None:
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    key = reveal(api_key)
    if key:
        return {"Authorization": f"ApiKey {key}"}, None
    if username or password:
        if not (username and reveal(password)):
            raise BadInput("KIBANA_USERNAME and KIBANA_PASSWORD go together: set both, or KIBANA_API_KEY")
        return {}, httpx.BasicAuth(username, reveal(password) or "")
    return {}, None


def saved_objects(prefix: str | None = None) -> bytes:
    """The NDJSON to send: the committed file for the default prefix, else built for `prefix`."""
    from movierec.dashboards.build import DEFAULT_PREFIX, build

    if prefix is None or prefix == DEFAULT_PREFIX:
        return DASHBOARDS.read_bytes()
    return build(prefix).encode()


def import_saved_objects(
    kibana_url: str,
    ndjson: Path | None = None,
    *,
    prefix: str | None = None,
    api_key: SecretStr | str | None = None,
    username: str | None = None,
    password: SecretStr | str | None = None,
    timeout: float = 30.0,
) -> int:
    """POST the saved objects to Kibana's import API (overwriting); returns the count imported."""
    url = f"{kibana_url.rstrip('/')}/api/saved_objects/_import"
    body = ndjson.read_bytes() if ndjson is not None else saved_objects(prefix)
    headers, auth = auth_headers(api_key, username, password)
    try:
        resp = httpx.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "movierec", **headers},
            auth=auth,
            files={"file": ("movierec.ndjson", body, "application/ndjson")},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise KibanaError(f"Kibana is not reachable at {kibana_url} ({type(exc).__name__})") from None
    if resp.status_code in (401, 403):
        raise KibanaError(
            f"{url}: HTTP {resp.status_code}: Kibana refused the credentials "
            "(set KIBANA_API_KEY, or KIBANA_USERNAME and KIBANA_PASSWORD)"
        )
    if resp.status_code != 200:
        raise KibanaError(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
    result = resp.json()
    if not result.get("success"):
        errors = [f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}" for e in result.get("errors", [])]
        raise KibanaError(f"Kibana rejected {len(errors)} object(s): {'; '.join(errors[:5])}")
    return int(result.get("successCount", 0))
