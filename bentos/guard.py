"""API keys and a per-key rate limit, as ASGI middleware in front of the service's routes.

Keys come from FLIGHTPATH_API_KEYS (comma-separated). Without keys the service refuses to
start, unless FLIGHTPATH_AUTH=off says so explicitly (the embedded demo does). Health, metrics
and the OpenAPI docs stay open: probes and scrapers carry no key.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

OPEN_PATHS = ("/healthz", "/livez", "/readyz", "/metrics", "/docs", "/docs.json", "/schema.json")
Scope = dict[str, Any]
ASGIApp = Callable[
    [Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]


class TokenBucket:
    """`rate` requests a second per key, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            self._state[key] = (tokens - 1 if allowed else tokens, now)
            return allowed


def api_keys_from_env() -> set[str] | None:
    """The accepted keys; None when authentication is explicitly off."""
    if os.environ.get("FLIGHTPATH_AUTH", "").lower() == "off":
        return None
    keys = {k.strip() for k in os.environ.get("FLIGHTPATH_API_KEYS", "").split(",") if k.strip()}
    if not keys:
        raise RuntimeError(
            "set FLIGHTPATH_API_KEYS (comma-separated), or FLIGHTPATH_AUTH=off for a local demo"
        )
    return keys


class ApiKeyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.keys = api_keys_from_env()
        rate = float(os.environ.get("FLIGHTPATH_RATE_LIMIT", "200"))
        self.bucket = TokenBucket(rate, burst=float(os.environ.get("FLIGHTPATH_RATE_BURST", rate)))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        key = headers.get("x-api-key", "")
        if self.keys is not None and key not in self.keys:
            await _reject(send, 401, "missing or unknown API key: send it as X-API-Key")
            return
        if not self.bucket.take(key):
            await _reject(send, 429, "rate limit exceeded for this key", {"retry-after": "1"})
            return
        await self.app(scope, receive, send)


async def _reject(
    send: Any, status: int, message: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
