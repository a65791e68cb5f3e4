"""`feature_drift`: the trailing week's features and scores against the champion's reference."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from assets import groups
from assets.automation import after_upstream_days
from assets.features.flight_features import HISTORY_DAYS as WINDOW_DAYS
from assets.monitoring.dashboard import history_chart
from assets.partitions import daily_partitions, partition_day
from assets.serving import batch_predictions
from flightpath.models.features import CATEGORICAL, FEATURES
from flightpath.models.registry import ModelRegistry
from flightpath.models.splits import NEW_YORK, Split, split_frame
from flightpath.monitoring.drift import FeatureDrift
from flightpath.monitoring.drift import feature_drift as drift_of
from flightpath.replay import FIRST_DAY
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy

GROUP = groups.MONITORING
CHECK = "no_feature_drift"
HISTORY_DAYS = 60  # how far back the dashboard looks
# Features that move for reasons retraining cannot fix: reported, never alerting. Temperature,
# dew point, humidity and pressure follow the climate's season (PSI of Oct..Dec against Jan..Aug
# is above 2 for temperature; late March against Jan 1..20 is 3.1 for pressure); the weekday mix
# of a window shorter than a week (the feed's first days, a gap) is not the reference's.
# `month` is not a model feature at all.
NOT_ALERTING = {"temp": "seasonal", "dewp": "seasonal", "humid": "seasonal",
                "pressure": "seasonal", "weekday": "calendar"}  # fmt: skip
WARM_UP_DAYS = WINDOW_DAYS  # flight_features' longest window, and the day it may straddle
MIN_REFERENCE_DAYS = 14
NUMERIC = [name for name in FEATURES if name not in CATEGORICAL]


def reference_window(split: Split) -> tuple[date, date]:
    """The champion's training days, less the feed's warm-up when enough days remain.

    In the feed's first month the 7- and 30-day windows are still filling up, so counts and
    rates there look like no later week (PSI above 1 against any of them): a reference that
    includes them would flag drift forever.
    """
    first, last = split.windows()["train"]
    settled = FIRST_DAY + timedelta(days=WARM_UP_DAYS)
    if (last - settled).days + 1 >= MIN_REFERENCE_DAYS:
        first = max(first, settled)
    return first, last


def reference_rows(lake: Lake, window: tuple[date, date]) -> str:
    """The reference's rows, as a DuckDB table expression over the training set."""
    first, last = window
    return (
        f"(SELECT * FROM read_parquet('{lake.table_path('training_set')}') WHERE "
        f"(sched_dep_utc AT TIME ZONE '{NEW_YORK}')::DATE BETWEEN DATE '{first}' AND DATE '{last}')"
    )


def reference_scores(lake: Lake, registry: ModelRegistry, tag: str) -> str:
    """The model's scores on its own test window: what its predictions looked like unseen.

    Computed once per model and kept in the lake, keyed by tag (a tag never changes meaning).
    """
    table = f"drift_reference/{tag.replace(':', '-')}"
    if not lake.table_path(table).exists():
        split = Split.from_metadata(registry.metadata(tag)["split"])
        test = split_frame(lake.read_table("training_set"), split)["test"]
        model = registry.load(tag)
        lake.write_table(
            table, pd.DataFrame({"probability": model.predict(model.spec.matrix(test))})
        )
    return f"read_parquet('{lake.table_path(table)}')"


def alerts(
    stats: list[FeatureDrift], prediction: FeatureDrift, policy: MonitoringPolicy
) -> list[str]:
    found = [
        f"feature drift: {s.feature} PSI {s.psi:.3f} > {policy.feature_psi}"
        for s in sorted(stats, key=lambda s: -s.psi)
        if s.feature not in NOT_ALERTING and s.psi > policy.feature_psi
    ]
    if prediction.psi > policy.prediction_psi:
        found.append(f"prediction drift: score PSI {prediction.psi:.3f} > {policy.prediction_psi}")
    return found


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    deps=[batch_predictions],
    automation_condition=after_upstream_days(),
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="feature_drift",
            description="No non-seasonal feature, and not the score distribution, has a PSI "
            "over the monitoring policy's threshold.",
            partitions_def=daily_partitions,
        )
    ],
    description="Per feature, PSI and a KS (numeric) or chi-square (categorical) statistic of "
    "the trailing week's flights against the champion's training rows, in DuckDB; the same for "
    "the champion's scores against its scores on its test window. Seasonal features are "
    "reported, not alerting.",
    kinds={"duckdb"},
)
def feature_drift(
    context: dg.AssetExecutionContext,
    lake: Lake,
    model_registry: ModelRegistryResource,
    monitoring: MonitoringPolicy,
) -> dg.MaterializeResult:
    day = partition_day(context)
    first = day - timedelta(days=monitoring.trailing_days - 1)
    current = lake.scan_days("batch_predictions", first, day)
    [tag] = lake.query(
        f"SELECT any_value(model) AS m FROM {lake.scan_days('batch_predictions', day, day)}"
    )["m"]
    registry = model_registry.registry()
    reference = reference_window(Split.from_metadata(registry.metadata(tag)["split"]))
    with lake.connect() as connection:
        stats = drift_of(connection, reference_rows(lake, reference), current, NUMERIC, CATEGORICAL)
        [prediction] = drift_of(
            connection,
            reference_scores(lake, registry, tag),
            f"(SELECT probability FROM {current} WHERE model = '{tag}')",
            ["probability"],
            [],
        )
    found = alerts(stats, prediction, monitoring)
    table = pd.DataFrame([s.to_dict() for s in [*stats, prediction]]).assign(
        model=tag,
        note=lambda t: t["feature"].map(NOT_ALERTING).fillna(""),
    )
    lake.write_partition("feature_drift", day, table)
    psi = dict(zip(table["feature"], table["psi"], strict=True))
    summary = "; ".join(found) or "no drift over the policy's thresholds"
    return dg.MaterializeResult(
        metadata={
            "reference_model": tag,
            "reference_window": f"{reference[0]} .. {reference[1]}",
            "window": f"{first} .. {day}",
            "current_rows": stats[0].current_rows,
            "reference_rows": stats[0].reference_rows,
            "prediction_psi": prediction.psi,
            "max_psi": max(s.psi for s in stats if s.feature not in NOT_ALERTING),
            "alerts": dg.MetadataValue.json(found),
            "summary": summary,
            # Under stable names, so the UI plots each one across the days.
            **{f"psi/{name}": float(value) for name, value in psi.items()},
            "table": dg.MetadataValue.md(
                table.sort_values("psi", ascending=False).to_markdown(index=False, floatfmt=".4f")
            ),
            "dashboard": dg.MetadataValue.md(_dashboard(lake, day, monitoring)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK,
                passed=not found,
                severity=dg.AssetCheckSeverity.WARN,
                description=summary,
            )
        ],
    )


def _dashboard(lake: Lake, day: date, policy: MonitoringPolicy) -> str:
    """PSI over the last days: the six alerting features that moved most, and the scores."""
    days = lake.scan_days("feature_drift", day - timedelta(days=HISTORY_DAYS), day)
    history = lake.query(f"SELECT date, feature, psi FROM {days}").pivot(
        index="date", columns="feature", values="psi"
    )
    alerting = history.drop(columns=["probability", *NOT_ALERTING], errors="ignore")
    top = alerting.max().nlargest(6).index.tolist()
    return history_chart(
        history[[*top, "probability"]],
        "PSI against the champion's reference (trailing week)",
        "PSI",
        {"feature threshold": policy.feature_psi},
    )
