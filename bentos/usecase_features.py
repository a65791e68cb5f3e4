"""A use case's features from the Feast online store: its feature service, one read a request.

An entity the store holds no row for comes back with every value None and every timestamp 0
(`get_online_features` answers each key it is asked for); it is left out of what `read` returns,
so the service can name it rather than score a row of missing values. Reads go through
`bentos.store_guard`: a store outage is `StoreUnreachable`, in milliseconds once the circuit opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feast.online_response import TIMESTAMP_POSTFIX

from bentos.store_guard import StoreGuard, StoreUnreachable
from flightpath.quality.contracts import Kind
from flightpath.usecase import UseCase

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

# A key no entity has, to ask the store whether it answers at all (readiness).
PROBE_KEYS: dict[Kind, object] = {Kind.INTEGER: -1, Kind.TEXT: "", Kind.NUMBER: -1.0}


@dataclass(frozen=True)
class FeatureRow:
    values: dict[str, Any]
    as_of: datetime  # when the newest of its features was computed


class UseCaseFeatures:
    def __init__(self, store: FeatureStore, usecase: UseCase) -> None:
        self.store, self.usecase = store, usecase
        self.guard = StoreGuard(store)
        # Resolved once: the registry is read at start, not per request.
        self.service: FeatureService = store.get_feature_service(usecase.feature_service)

    def read(self, keys: list[Any]) -> dict[Any, FeatureRow]:
        """Each key's features, for the keys the store has a row for; StoreUnreachable in an
        outage."""
        distinct = list(dict.fromkeys(keys))
        entity = self.usecase.entity
        answer = self.guard.read(
            lambda: self.store.get_online_features(
                features=self.service, entity_rows=[{entity: key} for key in distinct]
            ).to_dict(include_event_timestamps=True)
        )
        rows = {}
        for i, key in enumerate(distinct):
            newest = max(answer[name + TIMESTAMP_POSTFIX][i] for name in self.usecase.features)
            if newest > 0:
                values = {name: answer[name][i] for name in self.usecase.features}
                rows[key] = FeatureRow(values, datetime.fromtimestamp(newest, UTC))
        return rows

    def reachable(self) -> bool:
        """Whether the store answers a read (any answer, a row or none)."""
        try:
            self.read([PROBE_KEYS[self.usecase.columns[self.usecase.entity]]])
        except StoreUnreachable:
            return False
        return True
