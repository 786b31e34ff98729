"""The API's input policy at the ASGI boundary: body limit, finite JSON numbers, rate limit, JSON 500s.

One middleware, outermost among the app's, so every route gets the same rules:
- a body above MOVIEREC_MAX_BODY_BYTES answers 413 before it is read in full (paths ending in `:bulk`
  enforce their own, larger limit, and are passed through untouched);
- a JSON body with NaN, Infinity, -Infinity or a number that overflows a float (1e309) answers 422: Python's
  `json` accepts them, and the error rendering then failed (`Out of range float values are not JSON
  compliant`), a 500 that also dropped the connection;
- with MOVIEREC_RATE_LIMIT set, a per-client-IP token bucket answers 429 with Retry-After; it lives in this
  process, so with N workers a client gets up to N times the rate;
- any unexpected exception answers a JSON 500 with a request id, logged with the traceback. Starlette's own
  handler re-raises after answering, and uvicorn then closes the keep-alive connection; this one does not.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from movierec.config import get_settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

EXCERPT_CHARS = 80  # what an error body may quote of the input, at most
RATE_EXEMPT = frozenset({"/livez", "/health", "/metrics"})  # probes and scrapes are never throttled
MAX_BUCKETS = 10_000  # clients remembered per process; full buckets are forgotten first


def excerpt(value: object) -> str:
    """A short, JSON-safe quote of an input value (`nan`, a 5 MB string...)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= EXCERPT_CHARS else f"{text[:EXCERPT_CHARS]}... ({len(text)} characters)"


def clean_errors(errors: list[dict]) -> list[dict]:
    """Pydantic's errors without the full input or its context objects: short, and always JSON-serialisable."""
    out = []
    for err in errors:
        item = {"type": err.get("type"), "loc": list(err.get("loc", ())), "msg": excerpt(err.get("msg", ""))}
        if "input" in err:
            item["input"] = excerpt(err["input"])
        out.append(item)
    return out


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


class _NonFinite(ValueError):
    pass


def json_problem(body: bytes) -> str | None:
    """Why a JSON body is refused (non-finite or unparseable number), or None: malformed JSON is FastAPI's."""
    try:
        json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonFinite as exc:
        return f"numbers must be finite: {excerpt(str(exc))} is not"
    except json.JSONDecodeError:
        return None  # FastAPI answers it with a 422 json_invalid
    except UnicodeDecodeError:
        return None
    except (ValueError, RecursionError) as exc:  # an integer over 4,300 digits, nesting too deep
        return f"unreadable JSON body: {excerpt(str(exc))}"
    return None


class TokenBuckets:
    """Per-key token buckets: `rate` tokens a second, up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed (a token taken), else the seconds until a token is there."""
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._remember(key, (tokens - 1, now))
            return 0.0
        self._remember(key, (tokens, now))
        return (1 - tokens) / self.rate

    def _remember(self, key: str, state: tuple[float, float]) -> None:
        if key not in self.buckets and len(self.buckets) >= MAX_BUCKETS:
            now = state[1]
            full = [k for k, (t, at) in self.buckets.items() if t + (now - at) * self.rate >= self.burst]
            for k in full or list(self.buckets)[: MAX_BUCKETS // 10]:
                del self.buckets[k]
        self.buckets[key] = state


async def _send_json(send: Send, status: int, content: dict, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(content).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class PolicyMiddleware:
    def __init__(self, app: Callable) -> None:
        self.app = app
        self.limiter: TokenBuckets | None = None
        self.limiter_key: tuple[float, int] | None = None

    def _limiter(self, rate: float, burst: int) -> TokenBuckets:
        if self.limiter is None or self.limiter_key != (rate, burst):
            self.limiter, self.limiter_key = TokenBuckets(rate, burst), (rate, burst)
        return self.limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        path: str = scope.get("path", "")
        if settings.rate_limit_per_s > 0 and path not in RATE_EXEMPT:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self._limiter(settings.rate_limit_per_s, settings.rate_limit_burst).take(client)
            if wait:
                retry = str(max(1, math.ceil(wait)))
                detail = f"rate limit: {settings.rate_limit_per_s:g} requests/s per client, retry in {retry} s"
                await _send_json(send, 429, {"detail": detail}, {"Retry-After": retry})
                return
        if not path.endswith(":bulk") and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            receive = await self._checked_body(scope, receive, send, settings.max_body_bytes)
            if receive is None:
                return
        await self._guarded(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send, limit: int) -> Receive | None:
        """Read the body (up to `limit`), answer 413/422 itself, else a receive that replays the body."""
        headers = dict(scope.get("headers") or [])
        too_large = {"detail": f"request body over {limit} bytes (MOVIEREC_MAX_BODY_BYTES)"}
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, too_large)
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, too_large)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b""):
            problem = json_problem(body)
            if problem:
                err = {"type": "json_invalid", "loc": ["body"], "msg": problem}
                await _send_json(send, 422, {"detail": [err]})
                return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = uuid.uuid4().hex[:16]
            log.exception(
                "unexpected error, request id %s, during %s %s", request_id, scope.get("method"), scope["path"]
            )
            if started:  # half an answer is out: nothing better than closing the connection
                raise
            content = {"detail": "internal server error", "request_id": request_id}
            await _send_json(send, 500, content, {"X-Request-ID": request_id})


def install(app: FastAPI) -> None:
    """Call last, after every other middleware: it must be the outermost."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": clean_errors(list(exc.errors()))})

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        # A model built in a route from query values (Filters from `genres`...): the caller's input too.
        return JSONResponse(status_code=422, content={"detail": clean_errors(exc.errors())})

    app.add_middleware(PolicyMiddleware)
