"""Training/serving skew: online values against the offline point-in-time values, same instant."""

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from assets.features.build import build_snapshot
from assets.features.feature_store import ENTITY_VIEWS, entity_rows, online_features
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone

if TYPE_CHECKING:
    from feast import FeatureStore


@dataclass
class SkewReport:
    as_of: datetime
    compared: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)


def compare_online_offline(
    lake: Lake, store: "FeatureStore", as_of: datetime, per_view: int = 50, seed: int = 0
) -> SkewReport:
    """Sample keys of each serving view; online values must equal offline ones at `as_of`."""
    snapshot = build_snapshot(lake, as_of)
    report = SkewReport(as_of)
    for view, (key, columns) in ENTITY_VIEWS.items():
        offline = entity_rows(snapshot, key, columns, as_of)
        sample = offline.sample(n=min(per_view, len(offline)), random_state=seed)
        online = store.get_online_features(
            features=[f"{view}:{column}" for column in columns],
            entity_rows=[{key: value} for value in sample[key]],
        ).to_df()
        for (_, expected), (_, actual) in zip(sample.iterrows(), online.iterrows(), strict=True):
            for column in columns:
                report.compared += 1
                if not _same(actual[column], expected[column]):
                    report.mismatches.append(
                        {"view": view, key: expected[key], "feature": column,
                         "online": str(actual[column]), "offline": str(expected[column])}
                    )  # fmt: skip
    return report


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
        "point-in-time values at the same instant: the feed's clock (streaming) or the end of "
        "the latest online_features partition (batch)."
    ),
    blocking=True,
)
def online_matches_offline(
    context: dg.AssetCheckExecutionContext,
    lake: Lake,
    landing: LandingZone,
    feature_store: FeatureStoreResource,
) -> dg.AssetCheckResult:
    latest = context.instance.get_latest_materialization_event(online_features.key)
    batch_as_of = (
        datetime.fromisoformat(str(latest.asset_materialization.metadata["as_of"].value))
        if latest and latest.asset_materialization
        else None
    )
    instants = [t for t in (batch_as_of, landing.clock()) if t]
    if not instants:
        return dg.AssetCheckResult(passed=False, metadata={"error": "online store never filled"})
    report = compare_online_offline(lake, feature_store.store(), max(instants))
    return dg.AssetCheckResult(
        passed=not report.mismatches,
        metadata={
            "as_of": report.as_of.isoformat(),
            "values_compared": report.compared,
            "mismatches": len(report.mismatches),
            "first_mismatches": dg.MetadataValue.json(report.mismatches[:20]),
        },
    )
