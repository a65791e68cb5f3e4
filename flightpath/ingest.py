"""Materialise what has landed, in process, on the persistent Dagster instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
from tqdm import tqdm

from resources.home import dagster_home, landing_root
from resources.landing import DAILY_TABLES, LandingZone

# Step-by-step DEBUG logs belong in the UI; the terminal shows the progress bar and errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class IngestSummary:
    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def ingest(through: date, force: bool = False, progress: bool = True) -> IngestSummary:
    """Run the reference job, then `daily_ingest` for each landed day up to `through`.

    Days already materialised are skipped unless `force`; a failing day is reported and the
    others go on, as they would under the landing sensor.
    """
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    from pipelines.definitions import defs  # reads FLIGHTPATH_HOME, so imported late
    from pipelines.jobs import DAILY_ASSETS

    summary = IngestSummary()
    with dg.DagsterInstance.get() as instance:
        reference = defs.get_job_def("reference_ingest").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET
        )
        if not reference.success:
            summary.failed["reference"] = _first_error(reference)
            return summary

        daily = defs.get_job_def("daily_ingest")
        landing = LandingZone(root=str(landing_root()))
        tables_by_day: dict[str, list[str]] = {}
        for table in DAILY_TABLES:
            for landed in landing.landed_days(table):
                if landed.day <= through:
                    tables_by_day.setdefault(landed.day.isoformat(), []).append(table)
        done = instance.get_materialized_partitions(dg.AssetKey("flights")) & (
            instance.get_materialized_partitions(dg.AssetKey("weather"))
        )
        for day in tqdm(sorted(tables_by_day), desc="materialising days", disable=not progress):
            if day in done and not force:
                summary.skipped.append(day)
                continue
            selection = [dg.AssetKey(k) for t in tables_by_day[day] for k in DAILY_ASSETS[t]]
            result = daily.execute_in_process(
                partition_key=day,
                instance=instance,
                asset_selection=selection,
                raise_on_error=False,
                run_config=QUIET,
            )
            if result.success:
                summary.succeeded.append(day)
            else:
                summary.failed[day] = _first_error(result)
    return summary


def _first_error(result: dg.ExecuteInProcessResult) -> str:
    """The root cause of the run's first failed step, as one line a person can act on."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            return f"{event.step_key}: {error.message.strip()}"
    return "run failed (see the Dagster UI for the run's logs)"
