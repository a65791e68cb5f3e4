"""Streamed rows into the online store, through each push source's feature views.

`FeatureStore.push` looks the push source's views up in the registry on every call, rebuilding
every view and service from protobuf with runtime type checks: in the loop's hour-by-hour feed
that was ~0.1 s of each ~0.11 s push of a few rows (cProfile: 11.7 s of a served day's 18 s,
105 pushes). A stream pushes several times a minute, so the views are resolved once, when the
consumer starts, and each push writes through the provider as `push` itself does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from flightpath.entity_views import push_source

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView


class OnlinePush:
    """Writes rows as `FeatureStore.push(..., to=PushMode.ONLINE)` would, without its lookups."""

    def __init__(self, store: FeatureStore) -> None:
        from feast.data_source import PushSource

        self.store = store
        self.targets: dict[str, list[FeatureView]] = {}
        for view in [*store.list_feature_views(), *store.list_stream_feature_views()]:
            if isinstance(view.stream_source, PushSource):
                self.targets.setdefault(view.stream_source.name, []).append(view)

    def __call__(self, rows: dict[str, pd.DataFrame]) -> int:
        """Each view's rows written to every feature view its push source feeds; how many."""
        for view, frame in rows.items():
            targets = self.targets.get(push_source(view))
            if not targets:
                raise KeyError(f"no feature view reads the push source {push_source(view)}")
            for target in targets:
                # As `write_to_online_store`: a frame without a single value writes nothing.
                values = frame[[field.name for field in target.features]]
                if not values.notna().to_numpy().any():
                    continue
                self.store.provider.ingest_df(target, frame)
        return sum(len(frame) for frame in rows.values())
