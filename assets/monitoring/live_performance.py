"""`live_performance`: what the models said about a day, scored once its arrivals have landed."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from assets.automation import after_upstream_days
from assets.kit.alerts import LIVE_CHECK, judge_live_roc_auc, score_table
from assets.monitoring.dashboard import dashboard
from assets.monitoring.feature_drift import GROUP, HISTORY_DAYS
from assets.partitions import daily_partitions, partition_day
from assets.serving import batch_predictions
from flightpath.models.features import label_sql
from flightpath.models.metrics import scores
from flightpath.models.registry import CHAMPION
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy

# Who predicted: the service's roles, and the daily batch (role "batch").
ROLES = ("champion", "canary", "shadow", "batch")


def scored_flights(lake: Lake, day: date) -> pd.DataFrame:
    """Every (flight, model, role) predicted for the day with its late label.

    The service may answer a flight several times: its last answer counts. Cancelled and
    diverted flights have no arrival delay, hence no label: left out, as in training.
    """
    log = lake.path("prediction_log", f"date={day}")
    served = (
        f"SELECT flight_id, model, role, probability, logged_at "
        f"FROM read_parquet('{log}/*.parquet', union_by_name = true)"
        if any(log.glob("*.parquet"))
        else "SELECT NULL::VARCHAR AS flight_id, NULL::VARCHAR AS model, NULL::VARCHAR AS role, "
        "NULL::DOUBLE AS probability, NULL::TIMESTAMPTZ AS logged_at WHERE false"
    )
    return lake.query(
        f"""
        WITH predicted AS (
            SELECT flight_id, model, role, probability FROM ({served})
            QUALIFY row_number() OVER (PARTITION BY flight_id, model, role
                                       ORDER BY logged_at DESC) = 1
            UNION ALL
            SELECT flight_id, model, 'batch', probability
            FROM {lake.scan_days("batch_predictions", day, day)}
        )
        SELECT p.flight_id, p.model, p.role, p.probability, {label_sql("f.arr_delay")} AS label
        FROM predicted p JOIN {lake.scan_days("flights", day, day)} f USING (flight_id)
        WHERE f.arr_delay IS NOT NULL
        ORDER BY p.role, p.model, p.flight_id
        """
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    deps=["flights", batch_predictions],
    automation_condition=after_upstream_days(),
    check_specs=[
        dg.AssetCheckSpec(
            LIVE_CHECK,
            asset="live_performance",
            description="The champion's ROC-AUC over the trailing labelled days stays within the "
            "policy's drop of its test ROC-AUC.",
            partitions_def=daily_partitions,
        )
    ],
    description="The prediction log (the service: champion, canary, shadow challenger) and the "
    "day's batch predictions joined with the arrivals that landed later: ROC-AUC, PR-AUC, "
    "Brier and calibration per model tag and role; the champion over the trailing week.",
    kinds={"duckdb"},
)
def live_performance(
    context: dg.AssetExecutionContext,
    lake: Lake,
    model_registry: ModelRegistryResource,
    monitoring: MonitoringPolicy,
) -> dg.MaterializeResult:
    day = partition_day(context)
    rows = scored_flights(lake, day)
    path = lake.write_partition("live_performance", day, rows)
    table = score_table(rows)

    registry = model_registry.registry()
    champion = registry.alias(CHAMPION)
    first = day - timedelta(days=monitoring.trailing_days - 1)
    # The champion's answers over the window, one per flight: the service's when it answered.
    trailing = lake.query(
        f"""
        SELECT label, probability FROM {lake.scan_days("live_performance", first, day)}
        WHERE model = $champion AND role IN ('champion', 'batch')
        QUALIFY row_number() OVER (PARTITION BY flight_id ORDER BY role = 'champion' DESC) = 1
        """,
        {"champion": champion},
    )
    reference = registry.metadata(champion)["metrics"]["test"]["roc_auc"] if champion else None
    verdict = judge_live_roc_auc(trailing, reference, monitoring, f"{first} .. {day}")
    live, found, summary = verdict.live, verdict.alerts, verdict.summary
    by_role = {
        f"roc_auc/{role}": float(part["roc_auc"].mean())
        for role, part in table.groupby("role")
        if part["roc_auc"].notna().any()
    } if len(table) else {}  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "path": dg.MetadataValue.path(str(path)),
            "champion": champion or "none",
            "delay_rate": float(rows["label"].mean()) if len(rows) else 0.0,
            # Under stable names, so the UI plots each one across the days.
            **by_role,
            **({"trailing_roc_auc": live} if live is not None else {}),
            **({"champion_test_roc_auc": reference} if reference is not None else {}),
            "alerts": dg.MetadataValue.json(found),
            "summary": summary,
            "by_model": dg.MetadataValue.md(
                table.to_markdown(index=False, floatfmt=".4f") if len(table) else "no predictions"
            ),
            **_dashboard(lake, day),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=LIVE_CHECK,
                passed=not found,
                severity=dg.AssetCheckSeverity.WARN,
                description=summary,
            )
        ],
    )


def _dashboard(
    lake: Lake, day: date
) -> dict[str, dg.TableMetadataValue | dg.MarkdownMetadataValue]:
    """Daily ROC-AUC per role, and the day's delay rate, over the last days."""
    rows = lake.query(
        f"SELECT date, role, label, probability FROM "
        f"{lake.scan_days('live_performance', day - timedelta(days=HISTORY_DAYS), day)}"
    )
    if rows.empty:
        return {"dashboard": dg.MetadataValue.md("no labelled predictions yet")}
    daily = {
        (d, role): scores(part["label"].to_numpy(), part["probability"].to_numpy())["roc_auc"]
        for (d, role), part in rows.groupby(["date", "role"])
    }
    series = pd.Series(daily).unstack()
    series["delay rate"] = rows.groupby("date")["label"].mean()
    return dashboard(series, "Live ROC-AUC by role, and the delay rate", "ROC-AUC / rate")
