"""`feature_drift`: the trailing week's features and scores against the champion's reference."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from assets import groups
from assets.automation import after_upstream_days
from assets.kit.alerts import drift_alerts
from assets.monitoring.dashboard import dashboard
from assets.monitoring.drift_reference import NUMERIC, model_profile, reference_window
from assets.partitions import daily_partitions, partition_day
from assets.serving import batch_predictions
from flightpath.models.features import CATEGORICAL
from flightpath.models.splits import Split
from flightpath.monitoring.drift import window_drift
from flightpath.monitoring.profile import SCORE
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
    "the trailing week's flights against the champion's training rows; the same for the "
    "champion's scores against its scores on its test window. Both references come from the "
    "profile saved with the model, so only the trailing week is read. Seasonal features are "
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
    profile, profile_source = model_profile(lake, registry, tag)
    with lake.connect() as connection:
        *stats, prediction = window_drift(profile, connection, current, NUMERIC, CATEGORICAL, tag)
    found = drift_alerts([*stats, prediction], SCORE, monitoring, NOT_ALERTING)
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
            "reference_profile": profile_source,
            "ks_bound": max(s.statistic_bound for s in [*stats, prediction]),
            "prediction_psi": prediction.psi,
            "max_psi": max(s.psi for s in stats if s.feature not in NOT_ALERTING),
            "alerts": dg.MetadataValue.json(found),
            "summary": summary,
            # Under stable names, so the UI plots each one across the days.
            **{f"psi/{name}": float(value) for name, value in psi.items()},
            "table": dg.MetadataValue.md(
                table.sort_values("psi", ascending=False).to_markdown(index=False, floatfmt=".4f")
            ),
            **_dashboard(lake, day, monitoring),
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


def _dashboard(
    lake: Lake, day: date, policy: MonitoringPolicy
) -> dict[str, dg.TableMetadataValue | dg.MarkdownMetadataValue]:
    """PSI over the last days: the six alerting features that moved most, and the scores."""
    days = lake.scan_days("feature_drift", day - timedelta(days=HISTORY_DAYS), day)
    history = lake.query(f"SELECT date, feature, psi FROM {days}").pivot(
        index="date", columns="feature", values="psi"
    )
    alerting = history.drop(columns=["probability", *NOT_ALERTING], errors="ignore")
    top = alerting.max().nlargest(6).index.tolist()
    return dashboard(
        history[[*top, "probability"]],
        "PSI against the champion's reference (trailing week)",
        "PSI",
        {"feature threshold": policy.feature_psi},
    )
