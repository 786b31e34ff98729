"""How to reach Elasticsearch: nodes, credentials, TLS. Pure: no client import.

One `EsConnection` is built from the settings and used by the API, the CLI, the pipeline and its
executors' bulk export (it is a small picklable value, so Spark ships it to the executors). Its
`repr` and `describe()` never show a secret; `client_kwargs()` is the only place they are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from movierec.errors import BadInput

# Elasticsearch answers these while a node restarts or a proxy has no healthy upstream: another
# node may serve the request, so the client retries it there (bounded by max_retries).
RETRY_ON_STATUS = (502, 503, 504)


@dataclass(frozen=True)
class EsConnection:
    hosts: tuple[str, ...] = ("http://127.0.0.1:9200",)
    cloud_id: str | None = None
    api_key: str | None = field(default=None, repr=False)  # encoded, or "id:key"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 10.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if not self.hosts and not self.cloud_id:
            raise BadInput("ES_URL is empty and ES_CLOUD_ID is not set: nowhere to connect")
        for host in self.hosts:
            if not host.startswith(("http://", "https://")):
                raise BadInput(f"ES_URL: {host!r} is not an http:// or https:// URL")
        if bool(self.username) != bool(self.password):
            raise BadInput("ES_USERNAME and ES_PASSWORD go together: set both or neither")
        if self.ca_certs is not None:
            if not os.path.isfile(self.ca_certs):
                raise BadInput(f"ES_CA_CERTS={self.ca_certs}: no such file")
            if not os.access(self.ca_certs, os.R_OK):
                raise BadInput(f"ES_CA_CERTS={self.ca_certs}: not readable by this user")
        if self.max_retries < 0 or self.request_timeout <= 0:
            raise BadInput("ES_MAX_RETRIES must be >= 0 and ES_TIMEOUT_S > 0")

    @classmethod
    def parse(cls, urls: str, **kwargs: Any) -> EsConnection:
        """`urls`: one or several comma-separated node URLs (ES_URL)."""
        hosts = tuple(u.strip().rstrip("/") for u in urls.split(",") if u.strip())
        return cls(hosts=hosts, **kwargs)

    @property
    def url(self) -> str:
        """The first node: for messages and single-node tools."""
        return self.hosts[0] if self.hosts else f"cloud id {self.cloud_id.split(':')[0]}"

    @property
    def auth(self) -> str:
        if self.api_key:
            return "api key"
        if self.username:
            return f"user {self.username}"
        return "none"

    def describe(self) -> str:
        """Where and how, with every secret left out."""
        where = ", ".join(self.hosts) if self.hosts else f"Elastic Cloud ({self.cloud_id.split(':')[0]})"
        tls = ""
        if any(h.startswith("https://") for h in self.hosts) or self.cloud_id:
            tls = f", CA {self.ca_certs or 'system'}" + ("" if self.verify_certs else ", certificates NOT verified")
        return f"{where} (auth: {self.auth}{tls})"

    def client_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for `Elasticsearch(...)` / `AsyncElasticsearch(...)`."""
        kwargs: dict[str, Any] = {
            "request_timeout": self.request_timeout,
            "max_retries": self.max_retries,
            "retry_on_timeout": True,
            "retry_on_status": RETRY_ON_STATUS,
        }
        if self.cloud_id:
            kwargs["cloud_id"] = self.cloud_id
        else:
            kwargs["hosts"] = list(self.hosts)
        if self.api_key:
            key_id, sep, secret = self.api_key.partition(":")
            kwargs["api_key"] = (key_id, secret) if sep else self.api_key
        elif self.username:
            kwargs["basic_auth"] = (self.username, self.password)
        if self.ca_certs:
            kwargs["ca_certs"] = self.ca_certs
        if not self.verify_certs:
            kwargs["verify_certs"] = False
            kwargs["ssl_show_warn"] = False  # warned once, by search.client, not per request
        kwargs.update(overrides)
        return kwargs


def mask(secret: str | None) -> str:
    """For display: whether a secret is set, never any of it."""
    return "****" if secret else "(not set)"
