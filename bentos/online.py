"""Reading the model's features from the Feast online store, every view in one read per request.

`get_online_features` builds a response object per call (~0.3-0.8 ms for one key); the
provider's `online_read` is the same store read without that layer, one view per call;
`bentos.view_reads` does it for all views in one round trip. The views are resolved once, at
start. Every read is bounded (a short socket timeout, no retries) and goes through a circuit
breaker, so a store outage costs a request milliseconds, not seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bentos.breaker import CircuitBreaker, CircuitOpen
from bentos.view_reads import ViewRead, read_views
from flightpath.entity_views import ENTITY_VIEWS
from flightpath.feed_calendar import FEED

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

# The serving views the model reads, and the request field each is keyed by.
VIEWS = {name: view.key for name, view in ENTITY_VIEWS.items()}
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


@dataclass
class ViewRow:
    """One entity's values in one view, and when they were computed (None: no row)."""

    values: dict[str, Any]
    as_of: datetime | None


class OnlineFeatures:
    reader = staticmethod(read_views)  # every view in one store round trip

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        _bound_redis_calls(store)
        self.breaker = CircuitBreaker(BREAKER_FAILURES, BREAKER_COOLDOWN_SECONDS)
        self.views: dict[str, FeatureView] = {name: store.get_feature_view(name) for name in VIEWS}
        self.columns = {
            name: [field.name for field in view.features] for name, view in self.views.items()
        }

    def read(self, requests: list[dict[str, str]]) -> list[dict[str, ViewRow]]:
        """Per request (its key fields), every view's row; StoreUnreachable in an outage."""
        return self._guarded(lambda: self._read(requests))

    def _guarded(self, read: Callable[[], T]) -> T:
        try:
            return self.breaker.call(read, STORE_OUTAGES)
        except CircuitOpen as error:
            raise StoreUnreachable("circuit_open") from error
        except STORE_OUTAGES as error:
            raise StoreUnreachable("store_unreachable") from error

    def _read(self, requests: list[dict[str, str]]) -> list[dict[str, ViewRow]]:
        distinct = {
            name: sorted({request[key] for request in requests}) for name, key in VIEWS.items()
        }
        reads = [
            ViewRead(self.views[name], [self._entity_key(name, value) for value in values],
                     self.columns[name])
            for name, values in distinct.items()
        ]  # fmt: skip
        found = self.reader(self.store, reads)
        rows: list[dict[str, ViewRow]] = [{} for _ in requests]
        for (name, key), view_rows in zip(VIEWS.items(), found, strict=True):
            by_key = {
                value: _view_row(as_of, features)
                for value, (as_of, features) in zip(distinct[name], view_rows, strict=True)
            }
            for row, request in zip(rows, requests, strict=True):
                row[name] = by_key[request[key]]
        return rows

    def _entity_key(self, view: str, value: str) -> EntityKey:
        join_key = self.views[view].entity_columns[0].name
        return EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)])

    def reachable(self) -> bool:
        """One read of the views keyed by origin, for the feed's first origin airport: a key
        every day's features write, whatever the feed's geography."""
        origin = FEED.origins[0]
        probe = [
            ViewRead(self.views[name], [self._entity_key(name, origin)], self.columns[name])
            for name, key in VIEWS.items()
            if key == "origin"
        ]
        try:
            self._guarded(lambda: self.reader(self.store, probe))
            return True
        except StoreUnreachable:
            return False


def _view_row(as_of: datetime | None, features: dict[str, Value] | None) -> ViewRow:
    values = {
        column: feast_value_type_to_python_type(proto) for column, proto in (features or {}).items()
    }
    # SQLite answers a key it lacks with (None, None); Redis with the epoch and empty values.
    # Both mean: no row for this entity.
    if as_of is None or as_of.timestamp() == 0:
        return ViewRow({}, None)
    return ViewRow(values, as_of)


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
