"""Elasticsearch clients from an `EsConnection`, and failures told in words a user can act on."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TlsError
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    TransportError,
)

from movierec.connection import EsConnection

log = logging.getLogger(__name__)
C = TypeVar("C", Elasticsearch, AsyncElasticsearch)
_warned_unverified = False


def _warn_once(conn: EsConnection) -> None:
    global _warned_unverified
    if not conn.verify_certs and not _warned_unverified:
        _warned_unverified = True
        log.warning(
            "ES_VERIFY_CERTS=false: the Elasticsearch certificate is not checked, so anyone on the path "
            "can read and change traffic, credentials included; set ES_CA_CERTS instead"
        )


def sync_client(conn: EsConnection, **overrides: Any) -> Elasticsearch:
    _warn_once(conn)
    return Elasticsearch(**conn.client_kwargs(**overrides))


def async_client(conn: EsConnection, client_class: type[C] = AsyncElasticsearch, **overrides: Any) -> C:
    _warn_once(conn)
    return client_class(**conn.client_kwargs(**overrides))


def explain(exc: Exception, conn: EsConnection, *, public: bool = False) -> str:
    """One line for a failed call: what went wrong and which setting to look at; no secret.

    `public`: for API clients, without the cluster's addresses."""
    where = "the search backend" if public else conn.describe()
    if isinstance(exc, AuthenticationException):
        return (
            f"Elasticsearch refused the credentials (401) at {where}: check ES_API_KEY, or ES_USERNAME and "
            "ES_PASSWORD (an expired or invalidated API key gives this too)"
        )
    if isinstance(exc, AuthorizationException):
        reason = _reason(exc)
        return f"Elasticsearch denied the request (403) at {where}: the key or user lacks a privilege ({reason})"
    if isinstance(exc, TlsError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            f"TLS verification failed for {where}: the server's certificate is not signed by the CA in "
            "ES_CA_CERTS (or by a system CA when it is not set)"
        )
    if isinstance(exc, TransportConnectionError):
        return f"Elasticsearch is not reachable at {where}"
    if isinstance(exc, ApiError):
        return f"Elasticsearch answered {exc.meta.status} at {where}: {_reason(exc)}"
    if isinstance(exc, TransportError):
        return f"Elasticsearch transport error at {where}: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or exc.message)[:300]
    return str(exc.message)[:300]
