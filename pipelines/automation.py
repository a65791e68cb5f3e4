"""The closed loop's triggers: retrain on drift or decay, weekly anyway, score every day.

Feed days, not wall-clock days, measure the cool-down: the replay moves a day in seconds, and
the question is how much new data the last retraining saw.
"""

import os
from datetime import date

import dagster as dg

from assets.kit.automation import new_alerts
from assets.monitoring.feature_drift import feature_drift
from assets.monitoring.live_performance import live_performance
from flightpath.feed_calendar import FEED
from flightpath.models.registry import CHAMPION
from flightpath.models.splits import Split
from flightpath.run_tags import ALERT_DAY, REASON, THROUGH, TRIGGER
from pipelines.jobs import batch_predictions_job, retrain_config, retrain_job
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy

MONITORS = (feature_drift.key, live_performance.key)
BATCH_DAYS_PER_TICK = 7  # a tick catches up at most a week; older days are a backfill


def latest_feature_day(instance: dg.DagsterInstance) -> date | None:
    """The newest day whose features are built: what a retraining can train through."""
    days = instance.get_materialized_partitions(dg.AssetKey("online_features"))
    return date.fromisoformat(max(days)) if days else None


EVALUATION = dg.AssetKey("model_evaluation")
RECENT_RETRAININGS = 50  # enough history to find the last one that trained


def trained(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether a retraining trained and was judged: it runs, it succeeded, or it failed at the
    gate (its evaluation was written before the blocking check stopped the run). One that
    crashed before its evaluation, or was cancelled, trained nothing: it starts no cool-down."""
    if run.status == dg.DagsterRunStatus.CANCELED:
        return False
    if run.status != dg.DagsterRunStatus.FAILURE:
        return True
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return any(record.asset_key == EVALUATION for record in records)


def _retrainings(instance: dg.DagsterInstance, **tags: str) -> list[dg.DagsterRun]:
    """The latest retraining runs, newest first."""
    found = dg.RunsFilter(job_name=retrain_job.name, tags=tags or None)
    return list(instance.get_runs(found, limit=RECENT_RETRAININGS))


def last_retrain_through(instance: dg.DagsterInstance) -> date | None:
    """The day the latest retraining that trained (see `trained`) trained through, whatever
    asked for it."""
    run = next((r for r in _retrainings(instance) if trained(instance, r)), None)
    through = run.tags.get(THROUGH) if run else None
    return date.fromisoformat(through) if through else None


def _run_key(instance: dg.DagsterInstance, through: date) -> str:
    """One retraining per feed day, and a fresh key for each retry of one that crashed (the
    daemon drops a request whose run key it has seen)."""
    runs = _retrainings(instance, **{THROUGH: through.isoformat()})
    crashed = sum(not trained(instance, run) for run in runs)
    return f"retrain@{through}" + (f"#retry{crashed}" if crashed else "")


def retrain_request(
    instance: dg.DagsterInstance, trigger: str, reason: str, tags: dict[str, str] | None = None
) -> dg.RunRequest | dg.SkipReason:
    through = latest_feature_day(instance)
    if through is None:
        return dg.SkipReason("no features built yet")
    try:
        config = retrain_config(through)
    except ValueError as error:
        return dg.SkipReason(str(error))
    return dg.RunRequest(
        run_key=_run_key(instance, through),
        run_config=config,
        tags={REASON: reason, THROUGH: through.isoformat(), TRIGGER: trigger, **(tags or {})},
    )


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests `retrain` when a day's feature_drift or live_performance reports an "
    "alert (the monitoring policy's thresholds), at most once per cool-down; the reason goes "
    "in the run's tags.",
)
def retrain_sensor(
    context: dg.SensorEvaluationContext, monitoring: MonitoringPolicy
) -> dg.SensorResult:
    found, new_cursor = new_alerts(context.instance, list(MONITORS), context.cursor)
    alerts = [(date.fromisoformat(a.partition), a.text) for a in found if a.partition]
    if not alerts:
        return dg.SensorResult(skip_reason="no monitor reported an alert", cursor=new_cursor)
    day = max(d for d, _ in alerts)
    reason = "; ".join(dict.fromkeys(a for d, a in alerts if d == day))
    last = last_retrain_through(context.instance)
    if last is not None and (day - last).days < monitoring.cooldown_days:
        return dg.SensorResult(
            skip_reason=f"cool-down: the last retraining trained through {last}, "
            f"{monitoring.cooldown_days} feed days apart at least; ignored on {day}: {reason}",
            cursor=new_cursor,
        )
    request = retrain_request(context.instance, "retrain_sensor", reason, {ALERT_DAY: str(day)})
    if isinstance(request, dg.SkipReason):
        return dg.SensorResult(skip_reason=request.skip_message, cursor=new_cursor)
    context.log.info(f"retraining through {request.tags[THROUGH]}: {reason} (on {day})")
    return dg.SensorResult(run_requests=[request], cursor=new_cursor)


def cron(schedule: str, default: str) -> str:
    """`default`, or `FLIGHTPATH_CRON_<SCHEDULE>` where an operator moves a schedule (the
    production profile's test makes one tick every minute)."""
    return os.environ.get(f"FLIGHTPATH_CRON_{schedule.upper()}", default)


@dg.schedule(
    cron_schedule=cron("weekly_retrain", "0 4 * * 1"),
    job=retrain_job,
    execution_timezone=FEED.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrains every Monday whether or not a monitor fired, when days landed since "
    "the last retraining and the champion's test days.",
)
def weekly_retrain(
    context: dg.ScheduleEvaluationContext, model_registry: ModelRegistryResource
) -> dg.RunRequest | dg.SkipReason:
    return weekly_retrain_request(context.instance, model_registry)


def champion_through(model_registry: ModelRegistryResource) -> date | None:
    """The champion's last test day: the newest data it was judged on, whoever trained it (a
    retraining run, or `flightpath train`)."""
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    return Split.from_metadata(registry.metadata(tag)["split"]).test_end if tag else None


def weekly_retrain_request(
    instance: dg.DagsterInstance, model_registry: ModelRegistryResource,
    reason: str = "weekly schedule",
) -> dg.RunRequest | dg.SkipReason:  # fmt: skip
    """What `weekly_retrain` asks for when it ticks (also on the feed clock's Mondays)."""
    through = latest_feature_day(instance)
    if through is not None:
        for last, what in ((last_retrain_through(instance), "the last retraining"),
                           (champion_through(model_registry), "the champion")):  # fmt: skip
            if last is not None and through <= last:
                return dg.SkipReason(f"nothing landed since {what} (through {last})")
    return retrain_request(instance, "weekly_retrain", reason)


@dg.schedule(
    cron_schedule=cron("daily_batch_predictions", "0 5 * * *"),
    job=batch_predictions_job,
    execution_timezone=FEED.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Scores each new day with features built that the champion did not train or "
    "validate on (at most a week per tick).",
)
def daily_batch_predictions(
    context: dg.ScheduleEvaluationContext, model_registry: ModelRegistryResource
) -> list[dg.RunRequest] | dg.SkipReason:
    return batch_prediction_requests(context.instance, model_registry)


def batch_prediction_requests(
    instance: dg.DagsterInstance, model_registry: ModelRegistryResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """What `daily_batch_predictions` asks for when it ticks (also on each feed clock day)."""
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    if tag is None:
        return dg.SkipReason("no champion yet")
    seen = Split.from_metadata(registry.metadata(tag)["split"]).valid_end
    days = sorted(
        set(instance.get_materialized_partitions(dg.AssetKey("online_features")))
        - set(instance.get_materialized_partitions(dg.AssetKey("batch_predictions")))
    )
    days = [d for d in days if date.fromisoformat(d) > seen][-BATCH_DAYS_PER_TICK:]
    if not days:
        return dg.SkipReason("every day with features is scored")
    return [dg.RunRequest(partition_key=d, run_key=f"batch@{d}") for d in days]


automation = dg.AutomationConditionSensorDefinition(
    "flightpath_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Declarative automation: a landed day's features, then its drift and live "
    "performance once its batch predictions exist.",
    # A run per day, not a backfill: a backfill counts a day done once its asset materialised,
    # so a day whose blocking check failed its run would still show the group as a success.
    emit_backfills=False,
)
