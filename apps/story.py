"""`flightpath story`: the closed loop on the real feed, day by day, with the service answering.

Bootstraps a first champion on the feed's opening weeks (a retraining through `--start`), starts the
prediction service, then advances the feed one day at a time through `Loop`: the landing
sensor ingests the day, the service answers its flights, automation builds features, drift and
live performance, and the retrain sensor decides. Ends with a short report.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg

from apps.loop import DayReport, Loop, Run, service_client
from flightpath.home import bentoml_home
from flightpath.models.registry import CHAMPION, ModelRegistry
from flightpath.run_tags import REASON, TRIGGER


@dataclass
class Retraining:
    day: date
    trigger: str
    reason: str
    success: bool
    verdict: str
    champion_after: str | None


@dataclass
class Story:
    days: list[DayReport] = field(default_factory=list)
    retrainings: list[Retraining] = field(default_factory=list)


def tell(loop: Loop, registry: ModelRegistry, days: list[date], echo: bool = True) -> Story:
    """Advance the loop over `days`, one line per day, and gather what retrained and why."""
    story = Story()
    for day in days:
        report = loop.advance(day)
        story.days.append(report)
        line = _day_line(loop.instance, report)
        for run in report.runs:
            if run.job == "retrain":
                story.retrainings.append(_retraining(loop.instance, day, run, registry))
                retraining = story.retrainings[-1]
                line += f"\n    RETRAIN ({retraining.trigger}): {retraining.verdict}"
        if echo:
            print(line, flush=True)
    return story


def render(story: Story, registry: ModelRegistry) -> str:
    first, last = story.days[0], story.days[-1]
    served_first = ", ".join(sorted(first.served_by)) or "nothing"
    served_last = ", ".join(sorted(last.served_by)) or "nothing"
    out = [
        f"The loop over {first.day} .. {last.day}: "
        f"{sum(d.served for d in story.days):,} flights answered by the service, "
        f"{sum(d.rejected for d in story.days)} refused (a destination the champion never saw).",
        f"Served on {first.day}: {served_first}; on {last.day}: {served_last}.",
        f"Champion now: {registry.alias(CHAMPION)}.",
        f"{len(story.retrainings)} retraining(s):",
    ]
    for r in story.retrainings:
        alerts = r.reason.split("; ")
        more = f" (+{len(alerts) - 3} more)" if len(alerts) > 3 else ""
        out.append(f"  {r.day} [{r.trigger}] {'; '.join(alerts[:3])}{more}")
        out.append(f"      gate: {r.verdict}; champion after: {r.champion_after}")
    return "\n".join(out)


def _metadata(instance: dg.DagsterInstance, asset: str, day: date) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day.isoformat()]),
        limit=1,
    ).records
    materialization = records[0].asset_materialization if records else None
    if materialization is None:
        return {}
    return {k: v.value for k, v in materialization.metadata.items()}


def _day_line(instance: dg.DagsterInstance, report: DayReport) -> str:
    drift = _metadata(instance, "feature_drift", report.day)
    live = _metadata(instance, "live_performance", report.day)
    # A retraining the gate refuses fails its run by design; its verdict is printed instead.
    failed = [f"{r.job}[{r.partition}]: {r.error}" for r in report.runs
              if not r.success and r.job != "retrain"]  # fmt: skip
    served = ", ".join(f"{tag} {n}" for tag, n in sorted(report.served_by.items()))
    parts = [
        f"{report.day}  served {report.served} ({served or 'no service'})",
        f"max PSI {drift['max_psi']:.2f}, score PSI {drift['prediction_psi']:.2f}"
        if drift else "no drift yet",
        f"live ROC-AUC {live['trailing_roc_auc']:.3f}" if "trailing_roc_auc" in live
        else "live ROC-AUC not judged yet",
        f"alerts {len(drift.get('alerts', [])) + len(live.get('alerts', []))}",
    ]  # fmt: skip
    return "  ".join(parts) + "".join(f"\n    FAILED {f}" for f in failed)


def _retraining(
    instance: dg.DagsterInstance, day: date, run: Run, registry: ModelRegistry
) -> Retraining:
    evaluation = instance.get_latest_materialization_event(dg.AssetKey("model_evaluation"))
    verdict = (
        str(evaluation.asset_materialization.metadata["summary"].value)
        if evaluation and evaluation.asset_materialization and evaluation.run_id == run.run_id
        else f"no evaluation: {run.error}"
    )
    return Retraining(
        day, run.tags.get(TRIGGER, "?"), run.tags.get(REASON, ""),
        run.success, verdict, registry.alias(CHAMPION),
    )  # fmt: skip


def run_story(start: date, through: date, port: int | None, serve: bool) -> int:
    """The CLI's entry: bootstrap when there is no champion, then tell the days."""
    from apps.ingest import _instance
    from apps.service_process import running_service
    from flightpath.home import data_home
    from pipelines.definitions import build_definitions

    home = data_home()
    registry = ModelRegistry(bentoml_home(home))
    with _instance() as instance:
        defs = build_definitions()
        loop = Loop(instance, defs)
        if registry.alias(CHAMPION) is None:
            print(f"bootstrap: the feed through {start} and a first champion", flush=True)
            failed = [run for run in loop.bootstrap(start) if not run.success]
            if failed:
                print(f"bootstrap failed: {failed[0].job}: {failed[0].error}", file=sys.stderr)
                return 1
            print(f"first champion: {registry.alias(CHAMPION)}", flush=True)
        days = [start + timedelta(days=n) for n in range(1, (through - start).days + 1)]
        if serve:
            env = {"FLIGHTPATH_AUTH": "off"}
            with running_service(home, env, port=port) as client:
                print(f"service on {client.base_url}; the loop from {days[0]} to {days[-1]}")
                loop.serve = service_client(loop.lake, client, registry, loop.feature_store.store())
                story = tell(loop, registry, days)
        else:
            story = tell(loop, registry, days)
    print(render(story, registry))
    return 0
