"""The closed loop in process: the daemon's ticks, one feed day at a time.

Under `dagster dev` (or dagster-daemon) the same sensors, schedules and automation tick on the
wall clock. The replay moves faster than that, so `Loop.advance(day)` lands one day and ticks
them in the daemon's order, executing each run they request in this process, on the same
instance, with the tags the daemon sets (`dagster/sensor_name`, `dagster/schedule_name`,
`dagster/run_key`) and the request's own. The weekly retrain schedule follows the wall clock
and is left to the daemon: a feed day is not a week.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg
import httpx
import pandas as pd

from apps.ingest import QUIET, first_error
from assets.ingestion import judge_landed_days
from assets.quality.verdict_memo import batches_ahead
from flightpath.feed_calendar import FEED
from flightpath.models.registry import CHALLENGER, ModelRegistry
from flightpath.replay import replay
from flightpath.run_tags import REASON, THROUGH, TRIGGER
from flightpath.streaming.consumer import LiveFeed
from pipelines.jobs import daily_ingest_job, retrain_config
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone

if TYPE_CHECKING:
    from feast import FeatureStore

MAX_FLIGHTS = 500  # the service's batch limit
INGEST_JOB = daily_ingest_job.name
HOUR, DAY = pd.Timedelta(hours=1), pd.Timedelta(days=1)


@dataclass
class Run:
    """One run a tick requested, and what became of it."""

    source: str
    job: str
    partition: str | None
    tags: dict[str, str]
    run_id: str
    success: bool
    error: str | None = None


@dataclass
class DayReport:
    day: date
    runs: list[Run] = field(default_factory=list)
    served: int = 0
    rejected: int = 0
    served_by: dict[str, int] = field(default_factory=dict)  # model tag -> flights answered


class Loop:
    """The daemon's ticks over one instance and one Definitions, in order, a day at a time."""

    def __init__(self, instance: dg.DagsterInstance, defs: dg.Definitions) -> None:
        self.instance, self.defs = instance, defs
        # Who asks the service about a day's flights (`service_client`); none: batch only.
        self.serve: Callable[[date], DayReport] | None = None
        self.cursors: dict[str, str | None] = {}
        self.automation_cursor: Any = None
        resources = defs.resources or {}
        self.landing: LandingZone = resources["landing"]
        self.lake: Lake = resources["lake"]
        self.feature_store: FeatureStoreResource = resources["feature_store"]
        # The daemon's first tick: it sets the cursor, and what changed before it is not news.
        self.automation()

    def bootstrap(self, through: date) -> list[Run]:
        """The feed through `through` landed and featurised, and a first champion trained on it.

        Run as a retraining (`retrain`, trigger `bootstrap`) so that the cool-down counts from it.
        """
        replay(self.landing, through, progress=False)
        # The first tick lands the reference tables; days wait for them until the next one.
        runs = self.sensor("landing_sensor")
        runs += self.sensor("landing_sensor") + self.automation()
        tags = {THROUGH: through.isoformat(), TRIGGER: "bootstrap", REASON: "the first champion"}
        outcome = self.defs.resolve_job_def("retrain").execute_in_process(
            instance=self.instance, run_config={**QUIET, **retrain_config(through)}, tags=tags,
            raise_on_error=False,
        )  # fmt: skip
        return [*runs, _run("bootstrap", "retrain", None, tags, outcome)]

    def advance(self, day: date) -> DayReport:
        """Land `day`, ingest it, let the service answer its flights, then run the loop."""
        replay(self.landing, day, progress=False)
        runs = self.sensor("landing_sensor")
        report = self.serve(day) if self.serve else DayReport(day)
        report.runs = runs
        report.runs += self.automation()  # the day's features and online store
        report.runs += self.schedule("daily_batch_predictions")
        report.runs += self.automation()  # drift and live performance of the scored days
        report.runs += self.sensor("retrain_sensor")
        return report

    def sensor(self, name: str) -> list[Run]:
        definition = self.defs.resolve_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursors.get(name), sensor_name=name,
            resources=self.defs.resources, definitions=self.defs,
        )  # fmt: skip
        tick = definition.evaluate_tick(context)
        self.cursors[name] = tick.cursor
        default_job = definition.job_name if len(definition.targets) == 1 else None
        return self._execute(tick.run_requests, "dagster/sensor_name", name, default_job)

    def schedule(self, name: str) -> list[Run]:
        definition = self.defs.resolve_schedule_def(name)
        with dg.build_schedule_context(
            instance=self.instance, resources=self.defs.resources,
            repository_def=self.defs.get_repository_def(),
        ) as context:  # fmt: skip
            tick = definition.evaluate_tick(context)
        return self._execute(tick.run_requests, "dagster/schedule_name", name, definition.job_name)

    def automation(self) -> list[Run]:
        """One evaluation of every asset's automation condition; a run per requested day."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        by_partition: dict[str | None, list[dg.AssetKey]] = defaultdict(list)
        for evaluated in result.results:
            for partition in result.get_requested_partitions(evaluated.key):
                by_partition[partition].append(evaluated.key)
        job = self.defs.resolve_implicit_global_asset_job_def()
        runs = []
        for partition in sorted(by_partition, key=str):
            outcome = job.execute_in_process(
                instance=self.instance, partition_key=partition,
                asset_selection=by_partition[partition], raise_on_error=False, run_config=QUIET,
                tags={"dagster/from_automation_condition": "true"},
            )  # fmt: skip
            runs.append(_run("automation", job.name, partition, {}, outcome))
        return runs

    def _execute(
        self,
        requests: Sequence[dg.RunRequest] | None,
        source_tag: str,
        source: str,
        default_job: str | None,
    ) -> list[Run]:
        runs = []
        # The daemon starts a process per run; here the runs share one, so the days they ingest
        # are judged ahead, a batch per suite run, as `flightpath ingest` does.
        ingested = [
            r.partition_key for r in requests or []
            if (r.job_name or default_job) == INGEST_JOB and r.partition_key
        ]  # fmt: skip
        batches = batches_ahead(ingested)
        for request in requests or []:
            job_name = request.job_name or default_job
            assert job_name, f"{source} requested a run without a job"
            if job_name == INGEST_JOB and request.partition_key in batches:
                days = [date.fromisoformat(day) for day in batches[request.partition_key]]
                judge_landed_days(self.landing, self.lake, days)
            tags = {**request.tags, source_tag: source}
            if request.run_key:
                tags["dagster/run_key"] = request.run_key
                # The daemon runs a key once per sensor or schedule; so does the loop.
                done = dg.RunsFilter(tags={source_tag: source, "dagster/run_key": request.run_key})
                if self.instance.get_run_ids(done, limit=1):
                    continue
            config = request.run_config if isinstance(request.run_config, dict) else {}
            outcome = self.defs.resolve_job_def(job_name).execute_in_process(
                instance=self.instance, partition_key=request.partition_key,
                asset_selection=list(request.asset_selection) if request.asset_selection else None,
                run_config={**QUIET, **config}, tags=tags, raise_on_error=False,
            )  # fmt: skip
            runs.append(_run(source, job_name, request.partition_key, tags, outcome))
        return runs


def _run(
    source: str,
    job: str,
    partition: str | None,
    tags: dict[str, str],
    outcome: dg.ExecuteInProcessResult,
) -> Run:
    return Run(source, job, partition, tags, outcome.run_id, outcome.success,
               None if outcome.success else first_error(outcome))  # fmt: skip


def request_bodies(flights: pd.DataFrame) -> list[dict[str, Any]]:
    """Scheduled flights as the service's request items (those with a known aircraft)."""
    return [
        {"carrier": r.carrier, "flight": int(r.flight), "tailnum": r.tailnum, "origin": r.origin,
         "dest": r.dest, "sched_dep": pd.Timestamp(r.sched_dep_utc).isoformat()}
        for r in flights.dropna(subset=["tailnum"]).itertuples()
    ]  # fmt: skip


def service_client(
    lake: Lake, client: httpx.Client, registry: ModelRegistry, store: FeatureStore
) -> Callable[[date], DayReport]:
    """The day's flights sent to the running service hour by hour, as its users would.

    Before each hour's departures are asked about, the day's events up to that hour (departures,
    arrivals, weather observations) are streamed into the online store, so the service reads
    what it would have known then: the day is not scored at midnight from last night's store.
    """

    def serve(day: date) -> DayReport:
        report = DayReport(day)
        flights = lake.read_partition("flights", day).sort_values("sched_dep_utc")
        midnight = pd.Timestamp(day, tz=FEED.timezone).tz_convert("UTC")
        feed = LiveFeed(lake, store, midnight.to_pydatetime(), (midnight + DAY).to_pydatetime())
        hours = ((flights["sched_dep_utc"] - midnight) // HOUR).astype(int)
        for hour, departing in flights.groupby(hours, sort=True):
            feed.advance_to((midnight + hour * HOUR).to_pydatetime())
            bodies = request_bodies(departing)
            for start in range(0, len(bodies), MAX_FLIGHTS):
                _ask(client, bodies[start : start + MAX_FLIGHTS], report)
        feed.advance_to((midnight + DAY).to_pydatetime())
        _await_log(lake, day, report.served, shadowed=registry.alias(CHALLENGER) is not None)
        return report

    return serve


def _ask(client: httpx.Client, flights: list[dict[str, Any]], report: DayReport) -> None:
    response = client.post("/predict", json={"flights": flights})
    if response.status_code == 400:  # e.g. a destination the champion never saw
        answered = [client.post("/predict", json={"flights": [f]}) for f in flights]
        report.rejected += sum(r.status_code == 400 for r in answered)
        predictions = [p for r in answered if r.status_code == 200 for p in r.json()["predictions"]]
    else:
        response.raise_for_status()
        predictions = response.json()["predictions"]
    for prediction in predictions:
        report.served_by[prediction["model"]] = report.served_by.get(prediction["model"], 0) + 1
    report.served += len(predictions)


def _await_log(lake: Lake, day: date, answered: int, shadowed: bool, timeout: float = 20.0) -> None:
    """Wait until the service's prediction log holds the day's answers (and shadow scores).

    The service writes its log every few seconds; the day's labels must not be joined with a
    log still in the service's memory (in production they land hours later).
    """
    folder = lake.path("prediction_log", f"date={day}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(folder.glob("*.parquet")):
            [(logged, shadow)] = lake.query(
                "SELECT count(*) FILTER (role IN ('champion', 'canary')) AS logged, "
                "count(*) FILTER (role = 'shadow') AS shadow "
                f"FROM read_parquet('{folder}/*.parquet')"
            ).itertuples(index=False)
            if logged >= answered and (shadow >= answered or not shadowed):
                return
        time.sleep(0.5)
    raise TimeoutError(f"the prediction log of {day} did not reach {answered} answers")
