"""The model's inputs: which training-set columns it reads, encoded the same way everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from flightpath.entity_views import ENTITY_VIEWS

LABEL = "is_delayed"
LATE_MINUTES = 15  # the label: arrived more than this many minutes late (training and live)


def label_sql(arr_delay: str = "arr_delay") -> str:
    """The label in DuckDB SQL: 1 if late, 0 if not, NULL without an arrival (cancelled or
    diverted). The training set and the live scoring both label with this expression."""
    return (
        f"CASE WHEN {arr_delay} IS NULL THEN NULL ELSE ({arr_delay} > {LATE_MINUTES})::INTEGER END"
    )


# The aircraft's previous arrival is read as the turnaround computed from it at request time
# (`schedule_context`), not as an instant.
READ_AS = {"tail_prev_arrival_utc": "tail_minutes_since_prev_arrival"}
# Feature groups, named after the Feast views they come from (the ablation reports per group).
FEATURE_GROUPS: dict[str, list[str]] = {
    # Distance and the origin's scheduled departures in the hour are left out: the service has
    # neither at request time, and together they added nothing (test ROC-AUC 0.7484 with both,
    # 0.7488 without).
    "schedule": ["carrier", "origin", "dest", "sched_hour_local", "weekday"],
    **{
        name: [READ_AS.get(column, column) for column in view.columns]
        for name, view in ENTITY_VIEWS.items()
    },
}
# `month` is left out on purpose: a model trained on January..August has never seen October.
FEATURES = [name for group in FEATURE_GROUPS.values() for name in group]
CATEGORICAL = ["carrier", "origin", "dest"]

# Worse recent delays at the origin, of the aircraft's previous leg, or of the carrier and
# route, never lower the predicted risk: LightGBM enforces it, the behavioural tests check it.
INCREASING = [
    "origin_dep_delay_mean_1h",
    "origin_dep_delay_mean_3h",
    "tail_prev_arr_delay",
    "carrier_late_rate_7d",
    "route_late_rate_7d",
]


@dataclass(frozen=True)
class FeatureSpec:
    """The columns a model reads, in order, and each categorical's vocabulary from training."""

    features: list[str]
    vocabularies: dict[str, list[str]]

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        features: list[str] = FEATURES,
        categorical: Sequence[str] = CATEGORICAL,
    ) -> FeatureSpec:
        vocabularies = {
            name: sorted(frame[name].dropna().astype(str).unique())
            for name in features
            if name in categorical
        }
        return cls(features=list(features), vocabularies=vocabularies)

    @classmethod
    def from_metadata(cls, metadata: dict) -> FeatureSpec:
        return cls(features=list(metadata["features"]), vocabularies=metadata["vocabularies"])

    def to_metadata(self) -> dict:
        return {"features": self.features, "vocabularies": self.vocabularies}

    @property
    def categorical(self) -> list[int]:
        """Positions of the categorical columns in the matrix."""
        return [i for i, name in enumerate(self.features) if name in self.vocabularies]

    @cached_property
    def _codes(self) -> dict[str, dict[str, int]]:
        return {
            name: {v: i for i, v in enumerate(vocab)} for name, vocab in self.vocabularies.items()
        }

    def rows(self, records: list[dict[str, object]]) -> np.ndarray:
        """`matrix`'s encoding from plain dicts, without pandas (the service's per-request path);
        an absent or None value is missing."""
        out = np.full((len(records), len(self.features)), np.nan, np.float32)
        for i, record in enumerate(records):
            for j, name in enumerate(self.features):
                value = record.get(name)
                if value is None:
                    continue
                if name in self._codes:
                    out[i, j] = self._codes[name].get(str(value), np.nan)
                else:
                    out[i, j] = float(value)  # type: ignore[arg-type]
        return out

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """float32 rows in `features` order; a category is its vocabulary index, unseen is NaN."""
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise KeyError(f"feature columns missing from the frame: {missing}")
        columns = []
        for name in self.features:
            if name in self.vocabularies:
                codes = pd.Categorical(frame[name], categories=self.vocabularies[name]).codes
                columns.append(np.where(codes < 0, np.nan, codes).astype(np.float32))
            else:
                columns.append(
                    pd.to_numeric(frame[name], errors="coerce").to_numpy(
                        np.float32, na_value=np.nan
                    )
                )
        return np.column_stack(columns) if columns else np.empty((len(frame), 0), np.float32)
