"""Reading the model's features from the Feast online store, every view in one read per request.

`get_online_features` builds a response object per call (~0.3-0.8 ms for one key); the
provider's `online_read` is the same store read without that layer, one view per call;
`bentos.view_reads` does it for all views in one round trip. The views are resolved once, at
start. Every read goes through `bentos.store_guard`: bounded, behind a circuit breaker.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import feast_value_type_to_python_type

from bentos.store_guard import StoreGuard, StoreUnreachable
from bentos.view_reads import ViewRead, read_views
from bentos.view_rows import VIEWS, ViewRow
from flightpath.feed_calendar import FEED

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView


class OnlineFeatures:
    reader = staticmethod(read_views)  # every view in one store round trip

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self.guard = StoreGuard(store)
        self.views: dict[str, FeatureView] = {name: store.get_feature_view(name) for name in VIEWS}
        self.columns = {
            name: [field.name for field in view.features] for name, view in self.views.items()
        }

    def read(self, requests: list[dict[str, str]]) -> list[dict[str, ViewRow]]:
        """Per request (its key fields), every view's row; StoreUnreachable in an outage."""
        return self.guard.read(lambda: self._read(requests))

    def view_reads(
        self, requests: list[dict[str, str]]
    ) -> tuple[dict[str, list[str]], list[ViewRead]]:
        """Per view, the distinct values of its key among `requests`, and their reads."""
        distinct = {
            name: sorted({request[key] for request in requests}) for name, key in VIEWS.items()
        }
        reads = [ViewRead(self.views[name], values, self.columns[name])
                 for name, values in distinct.items()]  # fmt: skip
        return distinct, reads

    def _read(self, requests: list[dict[str, str]]) -> list[dict[str, ViewRow]]:
        distinct, reads = self.view_reads(requests)
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

    def reachable(self) -> bool:
        """One read of the views keyed by origin, for the feed's first origin airport: a key
        every day's features write, whatever the feed's geography."""
        origin = FEED.origins[0]
        probe = [
            ViewRead(self.views[name], [origin], self.columns[name])
            for name, key in VIEWS.items()
            if key == "origin"
        ]
        try:
            self.guard.read(lambda: self.reader(self.store, probe))
            return True
        except StoreUnreachable:
            return False


# The value kinds that Feast's conversion returns as stored. Read directly, they cost a third of
# its chain of checks (cProfile, one-flight reads); any other kind still goes through it.
AS_STORED = frozenset(
    ("int32_val", "int64_val", "float_val", "double_val", "string_val", "bool_val", "bytes_val")
)


def _python(proto: Value) -> object:
    kind = proto.WhichOneof("val")
    if kind in AS_STORED:
        return getattr(proto, kind)
    return feast_value_type_to_python_type(proto)


def _view_row(as_of: datetime | None, features: dict[str, Value] | None) -> ViewRow:
    values = {column: _python(proto) for column, proto in (features or {}).items()}
    # SQLite answers a key it lacks with (None, None); Redis with the epoch and empty values.
    # Both mean: no row for this entity.
    if as_of is None or as_of.timestamp() == 0:
        return ViewRow({}, None)
    return ViewRow(values, as_of)
