"""API keys and per-key rate limits, as ASGI middleware in front of the service's routes.

Keys come from FLIGHTPATH_API_KEYS (comma-separated). Without keys the service refuses to
start, unless FLIGHTPATH_AUTH=off says so explicitly (the embedded demo does). Health, metrics
and the OpenAPI docs stay open: probes and scrapers carry no key.

FLIGHTPATH_RATE_LIMIT (requests/s, burst FLIGHTPATH_RATE_BURST) is per key for the whole
service process: each of its API workers keeps its own bucket with 1/workers of the rate and
the burst, so a key never gets more than the limit however its connections spread (the same
for wrong keys from one address). Why not
shared state (Redis, a file): the limit guards the service against one key's flood, not a
quota to bill, and a shared bucket would cost every request a round trip or a lock across
processes. The price: a key whose requests all reach one worker (one keep-alive connection)
is limited at 1/workers of the rate; clients that need the whole rate open a few connections.
On Kubernetes each pod is a service process of its own (one worker; replicas scale), so there
the limit is per pod, as it was before workers.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from typing import Any

from bentos.asgi import ASGIApp, Scope, header, reject
from bentos.workers import api_workers
from flightpath.api_keys import api_keys_from_env

# The docs page at /docs is BentoML's Swagger UI at / with its assets under /static_content.
OPEN_PATHS = (
    "/healthz",
    "/livez",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs.json",
    "/schema.json",
    "/static_content/",
)
KEY_HEADER = "X-API-Key"
# Wrong keys from one client address: a burst of 10, then one guess a second.
FAILURE_BURST, FAILURE_RATE = 10.0, 1.0


class TokenBucket:
    """`rate` requests a second per key, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> bool:
        """Spends `cost` tokens if at least one is left (cost 0: only looks)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            self._state[key] = (tokens - cost if allowed else tokens, now)
            return allowed


def matching_key(sent: bytes, keys: list[bytes]) -> bytes | None:
    """The key `sent` equals, comparing with every key in constant time (no early exit)."""
    found = None
    for key in keys:
        if hmac.compare_digest(sent, key):
            found = key
    return found


class ApiKeyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.keys = api_keys_from_env()
        workers = api_workers()  # this worker's share of the service's limit (above)
        rate = float(os.environ.get("FLIGHTPATH_RATE_LIMIT", "200"))
        burst = float(os.environ.get("FLIGHTPATH_RATE_BURST", rate))
        self.bucket = TokenBucket(rate / workers, burst / workers)
        self.failures = TokenBucket(FAILURE_RATE / workers, FAILURE_BURST / workers)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or path.startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        # Header bytes are compared as bytes: nothing a client sends is decoded here.
        sent = header(scope, b"x-api-key") or b""
        if self.keys is None:
            key = sent
        else:
            address = (scope.get("client") or ("unknown",))[0]
            if not self.failures.take(address, cost=0):  # key guessing is bounded per address
                await reject(send, 429, KEY_HEADER, "too many wrong API keys", {"retry-after": "1"})
                return
            found = matching_key(sent, self.keys)
            if found is None:
                self.failures.take(address)
                await reject(send, 401, KEY_HEADER, "missing or unknown API key")
                return
            key = found
        if not self.bucket.take(key.decode("latin-1")):
            await reject(
                send, 429, KEY_HEADER, "rate limit exceeded for this key", {"retry-after": "1"}
            )
            return
        await self.app(scope, receive, send)
