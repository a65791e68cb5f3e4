"""Several feature views' rows in one store round trip, as each view's `online_read` returns them.

Feast's provider reads one view per call: five views cost five Redis round trips (read p99
1.34 ms against 0.41 ms for one). Here every view's HMGETs go in one pipeline (Feast's own
`_read_hash_fields`, which its `get_online_features` uses the same way), and on SQLite every
view's table is read by one SELECT. Keys, fields and decoding are Feast's own helpers, so each
view's answer is exactly what `online_read` gives for it; any other store falls back to that.
What does not change from request to request is computed once per process: an entity's
serialized key and a view's hashed field names (with hiredis, a one-flight read on Redis went
from p50 0.475 / p99 0.896 ms to 0.302 / 0.562 ms: benchmarks/serving/online_reads.py).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.redis import RedisOnlineStore, _versioned_fv_name
from feast.infra.online_stores.sqlite import SqliteOnlineStore, _quote_id, _table_id
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

# What `online_read` answers per entity key: the event time and the values (None: no row).
Row = tuple[datetime | None, dict[str, Value] | None]


@dataclass
class ViewRead:
    """One view, the values of its (single, text) join key to read and the columns wanted."""

    view: FeatureView
    values: list[str]
    columns: list[str]

    def entity_keys(self) -> list[EntityKey]:
        join_key = self.view.entity_columns[0].name
        return [entity_key(join_key, value) for value in self.values]

    def serialized_keys(self, version: int) -> list[bytes]:
        join_key = self.view.entity_columns[0].name
        return [_serialized(join_key, value, version) for value in self.values]


def entity_key(join_key: str, value: str) -> EntityKey:
    return EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)])


@functools.lru_cache(maxsize=1 << 16)  # every origin, carrier, route and aircraft, many times
def _serialized(join_key: str, value: str, version: int) -> bytes:
    return serialize_entity_key(
        entity_key(join_key, value), entity_key_serialization_version=version
    )


@functools.cache  # per view and column list: a handful per process
def _hset_plan(
    online: RedisOnlineStore, view: FeatureView, name: str, columns: tuple[str, ...]
) -> tuple[list[str], list[str | bytes]]:
    """Feast's hash fields for the view's columns (murmur3 of each name) and their names."""
    return online._generate_hset_keys_for_features(view, list(columns), fv_name_override=name)


def read_views(store: FeatureStore, reads: list[ViewRead]) -> list[list[Row]]:
    """Per read, its keys' rows in order; one round trip on Redis and SQLite."""
    online = store.provider.online_store
    if isinstance(online, RedisOnlineStore):
        return _redis(online, store, reads)
    if isinstance(online, SqliteOnlineStore):
        return _sqlite(online, store, reads)
    return read_per_view(store, reads)


def read_per_view(store: FeatureStore, reads: list[ViewRead]) -> list[list[Row]]:
    """The provider's `online_read`, one view (one round trip) at a time."""
    return [
        store.provider.online_read(
            config=store.config,
            table=r.view,
            entity_keys=r.entity_keys(),
            requested_features=list(r.columns),
        )
        for r in reads
    ]


def redis_commands(
    online: RedisOnlineStore, store: FeatureStore, reads: list[ViewRead]
) -> tuple[list[tuple[bytes, list[str | bytes]]], list[tuple[str, list[str], int]]]:
    """Every read's HMGETs (Redis key, hash fields), and per read its view's name, its field
    names and how many of the commands are its own."""
    config = store.config
    project = config.project.encode("utf-8")  # Feast's Redis key: the serialized key, project
    plans, commands = [], []
    for read in reads:
        name = _versioned_fv_name(read.view, config)
        fields, hset_keys = _hset_plan(online, read.view, name, tuple(read.columns))
        redis_keys = [
            key + project for key in read.serialized_keys(config.entity_key_serialization_version)
        ]
        commands += [(key, hset_keys) for key in redis_keys]
        plans.append((name, fields, len(redis_keys)))
    return commands, plans


def _redis(online: RedisOnlineStore, store: FeatureStore, reads: list[ViewRead]) -> list[list[Row]]:
    commands, plans = redis_commands(online, store, reads)
    replies = online._read_hash_fields(store.config, commands)  # one pipeline: one round trip
    rows, start = [], 0
    for name, fields, count in plans:
        rows.append(
            online._convert_redis_values_to_protobuf(replies[start : start + count], name, fields)
        )
        start += count
    return rows


def _sqlite(
    online: SqliteOnlineStore, store: FeatureStore, reads: list[ViewRead]
) -> list[list[Row]]:
    """Feast's SQLite `online_read` for every view at once: one SELECT over all their tables.

    Like Feast's, it returns every stored feature of the view, not only `columns`. The event
    time is named as a timestamp column so the connection (PARSE_COLNAMES) converts it, as the
    declared type does for Feast's single-table SELECT.
    """
    config = store.config
    versioning = config.registry.enable_online_feature_view_versioning
    serialized = [read.serialized_keys(config.entity_key_serialization_version) for read in reads]
    selects, parameters = [], []
    for index, (read, keys) in enumerate(zip(reads, serialized, strict=True)):
        if not keys:
            continue
        table = _quote_id(_table_id(config.project, read.view, versioning))
        selects.append(
            f"SELECT {index} AS part, entity_key, feature_name, value,"
            f' event_ts AS "ts [timestamp]" FROM {table}'
            f" WHERE entity_key IN ({','.join('?' * len(keys))})"
        )
        parameters += keys
    found: dict[tuple[int, bytes], list[tuple[Any, ...]]] = {}
    if selects:
        cursor = online._get_conn(config).cursor()
        cursor.execute(" UNION ALL ".join(selects) + " ORDER BY part, entity_key", parameters)
        for (index, key), group in itertools.groupby(cursor.fetchall(), lambda r: (r[0], r[1])):
            found[(index, key)] = list(group)
    return [
        [_sqlite_row(found.get((index, key), [])) for key in keys]
        for index, keys in enumerate(serialized)
    ]


def _sqlite_row(stored: list[tuple[Any, ...]]) -> Row:
    """One entity's stored features, as Feast's SQLite `online_read` builds them."""
    values: dict[str, Value] = {}
    as_of = None
    for _, _, feature, blob, ts in stored:
        value = Value()
        value.ParseFromString(blob)
        values[feature] = value
        as_of = ts.astimezone(UTC) if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (as_of, values) if values else (None, None)
