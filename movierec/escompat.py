"""Which Elasticsearch server this client can talk to.

The Python client's major must match the server's: a 9.x client sends
`Accept: application/vnd.elasticsearch+json; compatible-with=9`, which an 8.x server refuses with
HTTP 400 on every request. So the version is asked for without that header (plain JSON, which every
major answers), and a mismatch is reported in words instead of as a 400 on the first search.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import elasticsearch
from elasticsearch import AsyncElasticsearch

CLIENT_VERSION = elasticsearch.__versionstr__
CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])
# `_nodes/_local` is served by every build, including the integ-test-zip, whose 9.x has no `GET /`.
VERSION_PATH = "/_nodes/_local?filter_path=nodes.*.version"


@dataclass(frozen=True)
class ServerVersion:
    number: str

    @property
    def major(self) -> int:
        return int(self.number.split(".")[0])

    @property
    def compatible(self) -> bool:
        return self.major == CLIENT_MAJOR

    def problem(self) -> str | None:
        """None when this client can talk to the server, else what to do about it."""
        if self.compatible:
            return None
        if self.major < CLIENT_MAJOR:
            return (
                f"Elasticsearch {self.number} is too old for this movierec (Python client {CLIENT_VERSION} "
                f"needs a {CLIENT_MAJOR}.x server): upgrade the cluster to {CLIENT_MAJOR}.x first "
                f"(8.19 -> {CLIENT_MAJOR}.x is a rolling upgrade, the indices stay), then movierec; "
                f"or keep the movierec release that pins the 8.x client"
            )
        return (
            f"Elasticsearch {self.number} is newer than this movierec (Python client {CLIENT_VERSION} "
            f"talks to {CLIENT_MAJOR}.x servers): upgrade movierec to a release for {self.major}.x"
        )


def parse_nodes_version(body: dict) -> ServerVersion | None:
    """The lowest node version in a `_nodes` answer (a cluster mid-upgrade is as old as its oldest node)."""
    versions = [node.get("version") for node in (body.get("nodes") or {}).values() if node.get("version")]
    if not versions:
        return None
    return ServerVersion(min(versions, key=lambda v: tuple(int(p) for p in v.split("-")[0].split("."))))


async def server_version(es: AsyncElasticsearch) -> ServerVersion | None:
    """The server's version through the client's own transport (same nodes, auth and TLS), without the
    compatibility header; None if it cannot be read."""
    try:
        _meta, body = await es.transport.perform_request("GET", VERSION_PATH, headers={"accept": "application/json"})
    except Exception:  # unreachable, or no permission for _nodes: the caller reports what it can
        return None
    return parse_nodes_version(body) if isinstance(body, dict) else None


def server_version_at(url: str, *, timeout: float = 2.0) -> ServerVersion | None:
    """The same over plain HTTP, for `movierec check` (no client object needed)."""
    req = urllib.request.Request(f"{url.rstrip('/')}{VERSION_PATH}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return parse_nodes_version(json.loads(resp.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return None
