"""Every online-store read of a service, bounded and behind a circuit breaker.

A store outage must cost a request milliseconds, not seconds, and must never read as a bug: the
flights service answers degraded without the store, a use case's service answers 503. Both read
through one `StoreGuard`, which turns an outage into `StoreUnreachable` and lets any other error
surface as the bug it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bentos.breaker import CircuitBreaker, CircuitOpen

if TYPE_CHECKING:
    from feast import FeatureStore

# What a store outage raises (Redis down or slow, SQLite unreadable, the network): anything else
# is a bug and must surface as one, not as a degraded answer.
STORE_OUTAGES = (RedisConnectionError, RedisTimeoutError, sqlite3.OperationalError, OSError)
STORE_TIMEOUT_SECONDS = 0.25  # a Redis read takes ~1 ms: 250 ms means the store is in trouble
BREAKER_FAILURES, BREAKER_COOLDOWN_SECONDS = 3, 3.0
T = TypeVar("T")


class StoreUnreachable(Exception):
    """The online store could not be read; `reason` is the degraded-answer metric's label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreGuard:
    """Reads of one store: Redis calls bounded, outages counted by a circuit breaker."""

    retry_after_seconds = int(BREAKER_COOLDOWN_SECONDS)  # when a probe read is next let through

    def __init__(self, store: FeatureStore) -> None:
        _bound_redis_calls(store)
        self.breaker = CircuitBreaker(BREAKER_FAILURES, BREAKER_COOLDOWN_SECONDS)

    def read(self, read: Callable[[], T]) -> T:
        """`read()`; StoreUnreachable when the store is out or the circuit is open."""
        try:
            return self.breaker.call(read, STORE_OUTAGES)
        except CircuitOpen as error:
            raise StoreUnreachable("circuit_open") from error
        except STORE_OUTAGES as error:
            raise StoreUnreachable("store_unreachable") from error


def _bound_redis_calls(store: FeatureStore) -> None:
    """Redis calls time out after STORE_TIMEOUT_SECONDS and are not retried.

    redis-py retries 3 times with up to 10 s of backoff by default: a down store stalled each
    request for seconds. Feast builds the client privately; its connections open lazily, so
    settings made here apply to all of them. A standalone Redis through redis-py only (what the
    production profile is); a cluster, Sentinel or GLIDE client keeps Feast's settings.
    """
    online = store.config.online_store
    standalone = (getattr(online, "type", None) == "redis"
                  and online.redis_type == "redis" and online.client == "redis")  # fmt: skip
    if not standalone:
        return
    client = store.provider.online_store._get_client(online)  # type: ignore[attr-defined]
    client.connection_pool.connection_kwargs.update(
        socket_timeout=STORE_TIMEOUT_SECONDS, socket_connect_timeout=STORE_TIMEOUT_SECONDS
    )
    client.set_retry(Retry(NoBackoff(), 0))
