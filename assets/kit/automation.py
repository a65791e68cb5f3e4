"""A use case's jobs and triggers: the whole lifecycle, monitoring alone, a retraining when
monitoring alerts, and the schedules that keep both going."""

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg

from assets.kit.candidates import DATA_THROUGH
from assets.kit.data import partitions
from flightpath.run_tags import REASON, TRIGGER
from flightpath.usecase import UseCase
from resources.model_registry import ModelRegistryResource

if TYPE_CHECKING:  # what `define_asset_job` returns; Dagster does not export the name
    from dagster._core.definitions.partitions.partitioned_schedule import (
        UnresolvedPartitionedAssetScheduleDefinition,
    )
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

MONITORS = ("drift", "live_performance")
# A daily feed's stages that are daily partitions: each day lands, is judged, gets its features
# and reaches the online store in the feed's run; it is scored and monitored in the monitor's.
FEED_STAGES = ("raw", "validated", "quarantine", "features", "online_features")
MONITOR_STAGES = ("batch_predictions", *MONITORS)
UNDER_WAY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
             dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]  # fmt: skip


def _stages(usecase: UseCase, stages: tuple[str, ...]) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(usecase.key(stage) for stage in stages))


def lifecycle_job(usecase: UseCase) -> "UnresolvedAssetJobDefinition":
    selection: dg.AssetSelection = dg.AssetSelection.groups(usecase.group)
    if usecase.daily is not None:  # a feed's daily stages run a partition a run, in their jobs
        selection = selection - _stages(usecase, (*FEED_STAGES, *MONITOR_STAGES))
    return dg.define_asset_job(
        f"{usecase.name}_lifecycle",
        selection=selection,
        description=f"{usecase.title}: data, features, candidates, gate, champion, monitoring.",
    )


def feed(
    usecase: UseCase,
) -> tuple[
    list["UnresolvedAssetJobDefinition"],
    list["dg.ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition"],
]:
    """A daily feed's job (a day landed, typed, judged, its features online) and the schedule
    that runs it for each finished day; nothing for a snapshot."""
    if usecase.daily is None:
        return [], []
    job = dg.define_asset_job(
        f"{usecase.name}_feed",
        selection=_stages(usecase, FEED_STAGES),
        partitions_def=partitions(usecase),
        description=f"A day of {usecase.source}: landed, typed, judged by every rule, its "
        "features built and written to the online store.",
    )
    schedule = dg.build_schedule_from_partitioned_job(
        job, name=f"{usecase.name}_daily_feed", hour_of_day=1
    )
    return [job], [schedule]


def monitor_job(usecase: UseCase) -> "UnresolvedAssetJobDefinition":
    """Scoring and monitoring: the whole snapshot, or a feed's day (a partition a run)."""
    return dg.define_asset_job(
        f"{usecase.name}_monitor",
        selection=_stages(usecase, MONITOR_STAGES),
        partitions_def=partitions(usecase),
        description="Score with the champion, then drift and live performance.",
    )


@dataclass(frozen=True)
class MonitorAlert:
    """One alert a monitor's materialisation reported: its partition (None for a snapshot),
    the alert's text, and the run that materialised it."""

    partition: str | None
    text: str
    run_id: str


def new_alerts(
    instance: dg.DagsterInstance, monitors: list[dg.AssetKey], cursor: str | None
) -> tuple[list[MonitorAlert], str]:
    """Every alert the monitors reported since the cursor, oldest first, and the new cursor.

    The cursor is the last event read per monitor, so each materialisation is judged once.
    """
    seen: dict[str, int] = json.loads(cursor) if cursor else {}
    alerts: list[MonitorAlert] = []
    for key in monitors:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=seen.get(key.to_user_string())),
            limit=1000,
            ascending=True,
        ).records
        for record in records:
            materialization = record.asset_materialization
            found = materialization.metadata.get("alerts") if materialization else None
            alerts += [
                MonitorAlert(materialization.partition, str(text), record.run_id)  # type: ignore[union-attr]
                for text in (found.value if found else [])  # type: ignore[union-attr]
            ]
            seen[key.to_user_string()] = record.storage_id
    return alerts, json.dumps(seen, sort_keys=True)


def retrain_sensor(usecase: UseCase, job: "UnresolvedAssetJobDefinition") -> dg.SensorDefinition:
    monitors = [dg.AssetKey(usecase.key(stage)) for stage in MONITORS]

    @dg.sensor(
        name=f"{usecase.name}_retrain_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the lifecycle again when drift or live performance alerts (the "
        "alerts are the run's reason): one retraining at a time, and never on the alerts of "
        "the retraining it asked for.",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        alerts, cursor = new_alerts(context.instance, monitors, context.cursor)
        if not alerts:
            return dg.SensorResult(skip_reason="no monitor reported an alert", cursor=cursor)
        # A retraining monitors its new champion on the rows it trained on: that it still
        # alerts is for a person to look at, and asking again would retrain in a loop.
        runs = context.instance.get_runs(dg.RunsFilter(run_ids=list({a.run_id for a in alerts})))
        own = {run.run_id for run in runs if run.tags.get(TRIGGER) == sensor.name}
        fresh = [a.text for a in alerts if a.run_id not in own]
        reason = "; ".join(dict.fromkeys(fresh))
        if not fresh:
            still = "; ".join(dict.fromkeys(a.text for a in alerts))
            return dg.SensorResult(
                skip_reason=f"the retraining this sensor asked for still alerts, so it asks "
                f"for no other: {still}",
                cursor=cursor,
            )
        waiting = context.instance.get_runs(
            dg.RunsFilter(job_name=job.name, statuses=UNDER_WAY,
                          tags={TRIGGER: sensor.name}), limit=1,
        )  # fmt: skip
        if waiting:
            return dg.SensorResult(
                skip_reason=f"retraining {waiting[0].run_id} is already queued or running; "
                f"ignored: {reason}",
                cursor=cursor,
            )
        request = dg.RunRequest(
            run_key=f"{usecase.name}-retrain@{max(json.loads(cursor).values())}",
            tags={REASON: reason[:1000], TRIGGER: sensor.name},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return sensor


def weekly_retrain(
    usecase: UseCase, lifecycle: "UnresolvedAssetJobDefinition"
) -> dg.ScheduleDefinition:
    """The lifecycle every Monday. A feed's waits for a day its champion has not seen: the same
    days again would train the same model, and the gate would refuse it (a red run)."""
    name, tags = f"{usecase.name}_weekly_retrain", {REASON: "weekly", TRIGGER: "schedule"}
    if usecase.daily is None:
        return dg.ScheduleDefinition(name=name, job=lifecycle, cron_schedule="0 7 * * 1",
                                     execution_timezone="UTC", tags=tags)  # fmt: skip
    daily, validated = usecase.daily, dg.AssetKey(usecase.key("validated"))

    @dg.schedule(name=name, job=lifecycle, cron_schedule="0 7 * * 1", execution_timezone="UTC",
                 description="The lifecycle every Monday, once a day later than its champion's "
                 "data has landed.")  # fmt: skip
    def schedule(
        context: dg.ScheduleEvaluationContext, model_registry: ModelRegistryResource
    ) -> dg.RunRequest | dg.SkipReason:
        landed = context.instance.get_materialized_partitions(validated)
        if not landed:
            return dg.SkipReason("no day has landed yet")
        registry = model_registry.registry()
        tag = registry.alias(usecase.champion_alias)
        through = registry.metadata(tag).get(DATA_THROUGH) if tag else None
        if through is not None:
            seen = datetime.fromisoformat(through).astimezone(ZoneInfo(daily.zone)).date()
            if date.fromisoformat(max(landed)) <= seen:
                return dg.SkipReason(f"nothing landed since the champion (through {seen})")
        return dg.RunRequest(tags=tags)

    return schedule


def schedules(
    usecase: UseCase, lifecycle: "UnresolvedAssetJobDefinition",
    monitor: "UnresolvedAssetJobDefinition",
) -> list["dg.ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition"]:  # fmt: skip
    """Monitoring every morning (a feed: the day that ended, after the feed's run) and a
    retraining every Monday."""
    daily_monitor: dg.ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition = (
        dg.ScheduleDefinition(name=f"{usecase.name}_daily_monitor", job=monitor,
                              cron_schedule="0 6 * * *", execution_timezone="UTC")
        if usecase.daily is None
        else dg.build_schedule_from_partitioned_job(
            monitor, name=f"{usecase.name}_daily_monitor", hour_of_day=6
        )
    )  # fmt: skip
    return [daily_monitor, weekly_retrain(usecase, lifecycle)]
