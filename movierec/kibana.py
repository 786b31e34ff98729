"""Import the saved objects in dashboards/ into Kibana (`movierec dashboards import`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from movierec.errors import Failed
from movierec.resources import dashboards_file

DASHBOARDS = dashboards_file()


class KibanaError(Failed):
    pass


def import_saved_objects(kibana_url: str, ndjson: Path = DASHBOARDS, *, timeout: float = 30.0) -> int:
    """POST the NDJSON to Kibana's saved-objects import API (overwriting); returns the count imported."""
    url = f"{kibana_url.rstrip('/')}/api/saved_objects/_import"
    try:
        resp = httpx.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "movierec"},
            files={"file": (ndjson.name, ndjson.read_bytes(), "application/ndjson")},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise KibanaError(f"Kibana is not reachable at {kibana_url} ({type(exc).__name__}: {exc})") from exc
    if resp.status_code != 200:
        raise KibanaError(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
    body = resp.json()
    if not body.get("success"):
        errors = [f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}" for e in body.get("errors", [])]
        raise KibanaError(f"Kibana rejected {len(errors)} object(s): {'; '.join(errors[:5])}")
    return int(body.get("successCount", 0))
