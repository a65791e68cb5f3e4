"""Materialise what has landed, in process, on the persistent Dagster instance."""

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
from tqdm import tqdm

from assets.quality.verdict_memo import batches_ahead
from feature_repo.store import hide_library_warnings
from flightpath.home import landing_root
from flightpath.landing import DAILY_TABLES
from resources.home import dagster_home
from resources.landing import LandingZone

# Step-by-step DEBUG logs belong in the UI; the terminal shows the progress bar and errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class RunSummary:
    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def landed_days(through: date) -> list[str]:
    """The days up to `through` with at least one daily file in the landing zone."""
    landing = LandingZone(root=str(landing_root()))
    return sorted(
        {landed.day.isoformat() for table in DAILY_TABLES for landed in landing.landed_days(table)
         if landed.day <= through}
    )  # fmt: skip


def ingest(
    through: date,
    force: bool = False,
    progress: bool = True,
    on_day: Callable[[str], None] | None = None,
) -> RunSummary:
    """Reference tables, then `daily_ingest` for each landed day up to `through`.

    Days already materialised are skipped unless `force`; a failing day is reported and the
    others go on, as they would under the landing sensor. Every day runs all its daily tables:
    one whose file is missing or in another format fails the day, naming that file. `on_day`
    hears of each day that is in the lake (ingested now or before), in day order.
    """
    days = landed_days(through)
    with _instance() as instance:
        summary = RunSummary()
        if not _run_once("reference_ingest", instance, summary, progress=progress):
            return summary
        # A day is done only when every table it expects is in the lake.
        materialised = {table: _materialised(instance, table) for table in DAILY_TABLES}
        done = {d for d in days if all(d in materialised[t] for t in DAILY_TABLES)}
        _run_days(
            "daily_ingest", days, instance, summary, progress,
            skip=set() if force else done, total=len(days), ahead=_judge_ahead, on_day=on_day,
        )  # fmt: skip
        return summary


def _judge_ahead(days: list[str]) -> None:
    """The next days' files judged in one suite run per table before their runs in this process
    (the runs find the verdicts): a suite run costs ~0.7 s, for one day or a month."""
    from assets.ingestion import judge_landed_days
    from pipelines.definitions import defs

    resources = defs.resources or {}
    judge_landed_days(
        resources["landing"], resources["lake"], [date.fromisoformat(d) for d in days]
    )


def build_features(
    through: date,
    force: bool = False,
    progress: bool = True,
    days: Iterable[str] | None = None,
    total: int | None = None,
    position: int = 0,
) -> RunSummary:
    """Apply the Feast repo, compute each validated day's features, then the training set.

    `days` (with their number, `total`) are the days to build, as they become ready; by default
    every validated day up to `through`. `position` is the progress bars' line."""
    hide_library_warnings()
    with _instance() as instance:
        summary = RunSummary()
        if not _run_once("feature_registry", instance, summary, None, progress, position):
            return summary
        if days is None:
            days = sorted(d for d in _materialised(instance, "flights") if d <= through.isoformat())
            total = len(days)
        seen = _run_days(
            "daily_features", days, instance, summary, progress,
            skip=set() if force else _materialised(instance, "online_features"),
            total=total, position=position,
        )  # fmt: skip
        if seen:
            window = {"ops": {"training_set": {"config": {"start": seen[0], "end": seen[-1]}}}}
            _run_once("build_training_set", instance, summary, window, progress, position)
        return summary


def train_models(window: dict[str, str], progress: bool = True) -> tuple[RunSummary, str | None]:
    """Train both models over the training set, evaluate, promote through the gate.

    Returns the run summary and the gate's verdict; a candidate the gate refuses fails the
    run (the check is blocking) but is an answer, not an error: the verdict says why.
    """
    from assets.delay_models import model_evaluation

    hide_library_warnings()
    with _instance() as instance:
        summary = RunSummary()
        before = instance.get_latest_materialization_event(model_evaluation.key)
        ops = {op: {"config": window} for op in ("delay_model_lgbm", "delay_model_torch")}
        _run_once("train_models", instance, summary, {"ops": ops}, progress)
        event = instance.get_latest_materialization_event(model_evaluation.key)
        if (
            event is None
            or event.asset_materialization is None
            or (before is not None and event.run_id == before.run_id)
        ):
            return summary, None  # failed before the evaluation
        return summary, str(event.asset_materialization.metadata["summary"].value)


def _instance() -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    return dg.DagsterInstance.get()


def _materialised(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey(asset)))


def _job(name: str) -> dg.JobDefinition:
    from pipelines.definitions import defs  # reads FLIGHTPATH_HOME, so imported late

    return defs.resolve_job_def(name)


def _run_once(
    job: str,
    instance: dg.DagsterInstance,
    summary: RunSummary,
    config: dict[str, Any] | None = None,
    progress: bool = False,
    position: int = 0,
) -> bool:
    # A one-run stage gets a bar too: the terminal shows which stage runs, and for how long.
    with _stage_bar(job, 1, "run", progress, position) as bar:
        result = _job(job).execute_in_process(
            instance=instance, raise_on_error=False, run_config={**QUIET, **(config or {})}
        )
        bar.update()
        if not result.success:
            summary.failed[job] = first_error(result)
            bar.set_postfix_str("failed")
    return result.success


def _run_days(
    job: str,
    days: Iterable[str],
    instance: dg.DagsterInstance,
    summary: RunSummary,
    progress: bool,
    skip: set[str],
    total: int | None,
    ahead: Callable[[list[str]], None] | None = None,
    on_day: Callable[[str], None] | None = None,
    position: int = 0,
) -> list[str]:
    """Runs `job` for each day in order; returns the days it went through (run or skipped)."""
    # One run per day, not one over the range: Dagster 1.13 records a check result against the
    # run's partition key only (a range run has none), and each day must keep its own checks and
    # fail alone. What a day costs beyond its data is made small instead: `ahead` prepares the
    # next days' work at once (verdict_memo).
    definition = _job(job)
    # Work prepared ahead needs the days up front (ingestion passes a list); the features may
    # follow days as they come (apps/ingest_features.py).
    batches = batches_ahead([d for d in days if d not in skip]) if ahead is not None else {}
    seen: list[str] = []
    with _stage_bar(job, total, "day", progress, position) as bar:
        for day in days:
            seen.append(day)
            bar.set_postfix_str(f"{day}, {len(summary.failed)} failed", refresh=False)
            if ahead is not None and day in batches:
                ahead(batches[day])
            if day in skip:
                summary.skipped.append(day)
            else:
                result = definition.execute_in_process(
                    partition_key=day,
                    instance=instance,
                    raise_on_error=False,
                    run_config=QUIET,
                )
                if result.success:
                    summary.succeeded.append(day)
                else:
                    summary.failed[day] = first_error(result)
            if on_day is not None and day not in summary.failed:
                on_day(day)
            bar.update()
    return seen


def _stage_bar(job: str, total: int | None, unit: str, progress: bool, position: int = 0) -> tqdm:
    """One bar per stage on stderr, named after the Dagster job whose runs the UI lists."""
    return tqdm(
        total=total, desc=job, unit=unit, disable=not progress, file=sys.stderr, position=position
    )


def first_error(result: dg.ExecuteInProcessResult) -> str:
    """The root cause of the run's first failed step, as one line a person can act on."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            return f"{event.step_key}: {error.message.strip()}"
    return "run failed (see the Dagster UI for the run's logs)"
