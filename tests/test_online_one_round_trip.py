"""Every feature view of a request in one store round trip, with exactly Feast's own answers.

On SQLite (the embedded profile) and on a real Redis (the production profile, a project of this
test's own): the service's read equals Feast's `get_online_features` and, row for row, the
provider's per-view `online_read` it replaces, a missing key included; and it costs one Redis
round trip (one connection checkout: one pipeline) or one SQLite statement, for 1 or 100 flights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from feast import FeatureStore
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type

from bentos.online import AS_STORED, VIEWS, OnlineFeatures, _python
from bentos.view_reads import ViewRead, read_per_view, read_views
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from tests.services import production_feature_store
from tests.serving import flights_of

DAY = date(2013, 1, 17)
MISSING = {"origin": "ZZZ", "carrier": "ZZ", "route": "ZZZ-ZZZ", "tailnum": "N0NE"}


def requests_of(home: Path, count: int) -> list[dict[str, str]]:
    """The key fields of `count` real flights of DAY, then one flight no view knows."""
    flights = flights_of(home, DAY, count)
    keys = [
        {"origin": f["origin"], "carrier": f["carrier"], "tailnum": f["tailnum"],
         "route": f"{f['origin']}-{f['dest']}"}
        for f in flights
    ]  # fmt: skip
    return [*keys, MISSING]


class PerView(OnlineFeatures):
    """The read as it was: one view per store round trip."""

    reader = staticmethod(read_per_view)


def same(a: Any, b: Any) -> bool:
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


def assert_as_feast_answers(store: FeatureStore, requests: list[dict[str, str]]) -> None:
    online = OnlineFeatures(store)
    rows = online.read(requests)
    for name, key in VIEWS.items():
        view = online.views[name]
        join_key = view.entity_columns[0].name
        answer = store.get_online_features(
            features=[f"{name}:{column}" for column in online.columns[name]],
            entity_rows=[{join_key: request[key]} for request in requests],
        ).to_dict(include_event_timestamps=True)
        for i, request in enumerate(requests):
            row = rows[i][name]
            if request is MISSING:
                assert row.values == {} and row.as_of is None, (name, row)
                assert all(answer[column][i] is None for column in online.columns[name])
                continue
            assert row.as_of is not None, (name, request)
            for column in online.columns[name]:
                assert same(row.values[column], answer[column][i]), (name, column, request)
                assert int(row.as_of.timestamp()) == answer[f"{column}__ts"][i]
    # Row for row what the provider's per-view `online_read` (the read this replaces) answers.
    reads = [
        ViewRead(online.views[name], [request[key] for request in requests], online.columns[name])
        for name, key in VIEWS.items()
    ]
    per_view = read_per_view(store, reads)
    assert read_views(store, reads) == per_view
    assert any(as_of is not None and as_of.timestamp() > 0 for as_of, _ in per_view[0])


def test_sqlite_reads_every_view_in_one_statement_as_feast_does(feature_home: Path) -> None:
    store = FeatureStoreResource(home=str(feature_home)).store()
    requests = requests_of(feature_home, 5)
    assert_as_feast_answers(store, requests)

    online = OnlineFeatures(store)
    statements: list[str] = []
    connection = store.provider.online_store._get_conn(store.config)  # type: ignore[attr-defined]
    connection.set_trace_callback(statements.append)
    selects = lambda: len([s for s in statements if s.lstrip().upper().startswith("SELECT")])  # noqa: E731
    try:
        PerView(store).read(requests[:1])  # the counter counts: the per-view read is one each
        assert selects() == len(VIEWS)
        for flights in (requests[:1], requests_of(feature_home, 100)):
            statements.clear()
            online.read(flights)
            assert selects() == 1
    finally:
        connection.set_trace_callback(None)


@pytest.fixture
def redis_store(feature_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeatureStore]:
    """The production profile under a project of this test's own, filled with DAY's rows."""
    with production_feature_store(feature_home, monkeypatch, "flightpath_rtt") as resource:
        resource.apply()
        store, lake = resource.store(), Lake(root=str(feature_home / "lake"))
        for view in VIEWS:
            store.write_to_online_store(view, lake.read_partition(f"online_snapshots/{view}", DAY))
        yield store


def test_redis_reads_every_view_in_one_round_trip_as_feast_does(
    redis_store: FeatureStore, feature_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = requests_of(feature_home, 5)
    assert_as_feast_answers(redis_store, requests)

    online = OnlineFeatures(redis_store)
    client = redis_store.provider.online_store._get_client(redis_store.config.online_store)  # type: ignore[attr-defined]
    pool = client.connection_pool
    checkouts = []
    get_connection = pool.get_connection

    def counted(*args: Any, **kwargs: Any) -> Any:
        checkouts.append(1)  # one per command sent or pipeline executed: one per round trip
        return get_connection(*args, **kwargs)

    monkeypatch.setattr(pool, "get_connection", counted)
    per_view = PerView(redis_store)
    per_view.read(requests[:1])  # the counter counts: the per-view read is one round trip each
    assert len(checkouts) == len(VIEWS)
    for flights in (requests[:1], requests_of(feature_home, 100)):
        checkouts.clear()
        online.read(flights)
        assert len(checkouts) == 1, len(checkouts)


def test_values_read_directly_are_feasts_own() -> None:
    """Each kind read without Feast's conversion converts to what Feast's gives; others go
    through Feast's (a timestamp becomes a datetime)."""
    samples = [
        Value(int32_val=-3), Value(int64_val=2**40), Value(float_val=0.5),
        Value(double_val=float("nan")), Value(string_val="JFK"), Value(bool_val=True),
        Value(bytes_val=b"\x00"), Value(unix_timestamp_val=1_358_400_000), Value(),
    ]  # fmt: skip
    kinds = {proto.WhichOneof("val") for proto in samples}
    assert kinds >= AS_STORED  # every kind read directly is tried
    for proto in samples:
        assert same(_python(proto), feast_value_type_to_python_type(proto)), proto
    assert isinstance(_python(Value(unix_timestamp_val=1_358_400_000)), datetime)
