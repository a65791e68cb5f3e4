"""Training/serving skew: online values against the offline point-in-time values, same instant."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from assets.features.build import build_snapshot
from assets.features.feature_store import (
    ENTITY_VIEWS,
    end_of_day_utc,
    entity_rows,
    online_features,
    online_instants,
)
from assets.partitions import daily_partitions
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone

if TYPE_CHECKING:
    from feast import FeatureStore


@dataclass
class SkewReport:
    as_of: datetime
    compared: int = 0
    superseded: int = 0  # keys whose online row is newer than `as_of`: judged at its instant
    mismatches: list[dict[str, Any]] = field(default_factory=list)


def compare_online_offline(
    lake: Lake, store: "FeatureStore", as_of: datetime, per_view: int = 50, seed: int = 0
) -> SkewReport:
    """Sample keys of each serving view; each online row must equal the offline values at the
    later of `as_of` and the instant the row is as of.

    A row older than `as_of` is stale unless nothing changed since; a row newer than `as_of` (a
    later day's snapshot, a streamed update) must be what the offline store says at its instant.
    """
    offline = _OfflineSnapshots(lake)
    report = SkewReport(as_of)
    for view, (key, columns) in ENTITY_VIEWS.items():
        sample = offline.rows(view, as_of)
        sample = sample.sample(n=min(per_view, len(sample)), random_state=seed)
        if sample.empty:  # nothing flew: nothing to compare (the check fails on zero compared)
            continue
        instants = online_instants(store, view, sample[key]).map(lambda t: max(t, as_of))
        report.superseded += int((instants > as_of).sum())
        online = store.get_online_features(
            features=[f"{view}:{column}" for column in columns],
            entity_rows=[{key: value} for value in sample[key]],
        ).to_df()
        pairs = zip(sample[key], instants, online.iterrows(), strict=True)
        for value, instant, (_, actual) in pairs:
            expected = offline.row(view, instant, value)
            for column in columns:
                report.compared += 1
                wanted = expected[column] if expected is not None else None
                if not _same(actual[column], wanted):
                    report.mismatches.append(
                        {"view": view, key: value, "feature": column, "as_of": instant.isoformat(),
                         "online": str(actual[column]), "offline": str(wanted)}
                    )  # fmt: skip
    return report


class _OfflineSnapshots:
    """Offline entity rows per view at each instant asked for, each snapshot built once."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self._built: dict[datetime, pd.DataFrame] = {}
        self._rows: dict[tuple[str, datetime], pd.DataFrame] = {}
        self._by_key: dict[tuple[str, datetime], pd.DataFrame] = {}

    def rows(self, view: str, instant: datetime) -> pd.DataFrame:
        if (view, instant) not in self._rows:
            if instant not in self._built:
                self._built[instant] = build_snapshot(self._lake, instant)
            key, columns = ENTITY_VIEWS[view]
            self._rows[view, instant] = entity_rows(self._built[instant], key, columns, instant)
        return self._rows[view, instant]

    def row(self, view: str, instant: datetime, value: Any) -> pd.Series | None:
        """The key's offline row at `instant`; None where the snapshot has no such key."""
        if (view, instant) not in self._by_key:  # one row per key (`entity_rows`): an index
            self._by_key[view, instant] = self.rows(view, instant).set_index(ENTITY_VIEWS[view][0])
        by_key = self._by_key[view, instant]
        return by_key.loc[value] if value in by_key.index else None


def _same(online: Any, offline: Any) -> bool:
    if pd.isna(online) or pd.isna(offline):
        return bool(pd.isna(online) and pd.isna(offline))
    if isinstance(offline, pd.Timestamp | datetime):
        return pd.Timestamp(online).tz_convert("UTC") == pd.Timestamp(offline).tz_convert("UTC")
    return math.isclose(float(online), float(offline), rel_tol=1e-9, abs_tol=1e-12)


@dg.asset_check(
    asset=online_features,
    description=(
        "Samples keys of every serving view and compares the online store with the offline "
        "point-in-time values: at the end of the day this run wrote (or the feed's clock, when "
        "streaming moved it later), and at its own instant for a row a later day or the stream "
        "already replaced."
    ),
    blocking=True,
    partitions_def=daily_partitions,
)
def online_matches_offline(
    context: dg.AssetCheckExecutionContext,
    lake: Lake,
    landing: LandingZone,
    feature_store: FeatureStoreResource,
) -> dg.AssetCheckResult:
    instants = [t for t in (_written_as_of(context), landing.clock()) if t]
    report = compare_online_offline(lake, feature_store.store(), max(instants))
    # Nothing compared proves nothing: an empty sample fails rather than passing vacuously.
    return dg.AssetCheckResult(
        passed=report.compared > 0 and not report.mismatches,
        metadata={
            "as_of": report.as_of.isoformat(),
            "values_compared": report.compared,
            "superseded": report.superseded,
            "mismatches": len(report.mismatches),
            "first_mismatches": dg.MetadataValue.json(report.mismatches[:20]),
        },
    )


def _written_as_of(context: dg.AssetCheckExecutionContext) -> datetime:
    """The snapshot instant of the day checked (the check is partitioned as its asset)."""
    return end_of_day_utc(date.fromisoformat(context.partition_key))
