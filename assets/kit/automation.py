"""A use case's jobs and triggers: the whole lifecycle, monitoring alone, a retraining when
monitoring alerts, and the schedules that keep both going."""

from typing import TYPE_CHECKING

import dagster as dg

from flightpath.run_tags import REASON, TRIGGER
from flightpath.usecase import UseCase

if TYPE_CHECKING:  # what `define_asset_job` returns; Dagster does not export the name
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

MONITORS = ("drift", "live_performance")


def lifecycle_job(usecase: UseCase) -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        f"{usecase.name}_lifecycle",
        selection=dg.AssetSelection.groups(usecase.group),
        description=f"{usecase.title}: data, features, candidates, gate, champion, monitoring.",
    )


def monitor_job(usecase: UseCase) -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        f"{usecase.name}_monitor",
        selection=dg.AssetSelection.assets(
            *([usecase.name, stage] for stage in ("batch_predictions", *MONITORS))
        ),
        description="Score with the champion, then drift and live performance.",
    )


def retrain_sensor(usecase: UseCase, job: "UnresolvedAssetJobDefinition") -> dg.SensorDefinition:
    keys = [dg.AssetKey([usecase.name, stage]) for stage in MONITORS]

    @dg.sensor(
        name=f"{usecase.name}_retrain_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the lifecycle again when drift or live performance alerts; the "
        "alerts are the run's reason.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        after = int(context.cursor) if context.cursor else None
        newest, alerts = after, []
        for key in keys:
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=100
            ).records
            for record in records:
                newest = max(newest or 0, record.storage_id)
                found = record.asset_materialization.metadata.get("alerts") if (
                    record.asset_materialization) else None  # fmt: skip
                alerts += [str(a) for a in (found.value if found else [])]  # type: ignore[union-attr]
        requests = []
        if alerts:
            requests.append(
                dg.RunRequest(
                    run_key=f"{usecase.name}-retrain@{newest}",
                    tags={REASON: "; ".join(alerts)[:1000], TRIGGER: sensor.name},
                )
            )
        return dg.SensorResult(run_requests=requests, cursor=str(newest) if newest else None)

    return sensor


def schedules(
    usecase: UseCase, lifecycle: "UnresolvedAssetJobDefinition",
    monitor: "UnresolvedAssetJobDefinition",
) -> list[dg.ScheduleDefinition]:  # fmt: skip
    return [
        dg.ScheduleDefinition(
            name=f"{usecase.name}_daily_monitor", job=monitor, cron_schedule="0 6 * * *",
            execution_timezone="UTC",
        ),
        dg.ScheduleDefinition(
            name=f"{usecase.name}_weekly_retrain", job=lifecycle, cron_schedule="0 7 * * 1",
            execution_timezone="UTC", tags={REASON: "weekly", TRIGGER: "schedule"},
        ),
    ]  # fmt: skip
