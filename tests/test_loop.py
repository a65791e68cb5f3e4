"""The closed loop on real days: drift, a sensor-driven retraining, the gate, the service.

One scenario, built once: January landed and ingested through the landing sensor, features
through declarative automation, a first champion trained through Jan 31 (by hand: the
bootstrap), then February 1..14 advanced a day at a time by `Loop`, the in-process stand-in for
the daemon, with a real `bentoml serve` answering every day's flights.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from apps.lineage import trace
from apps.loop import DayReport, Loop, service_client
from assets.monitoring.feature_drift import NOT_ALERTING
from flightpath.home import bentoml_home
from flightpath.models.gate import GateRules, decide
from flightpath.models.registry import CHAMPION, ModelRegistry
from flightpath.run_tags import ALERT_DAY, REASON, THROUGH, TRIGGER
from pipelines.automation import weekly_retrain
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy
from tests.serving import serving

pytestmark = pytest.mark.slow  # minutes of replay and training: started first

BOOTSTRAP = date(2013, 1, 31)
DAYS = [BOOTSTRAP + timedelta(days=n) for n in range(1, 15)]
POLICY = MonitoringPolicy()


class Scenario:
    def __init__(self, home: Path, instance: dg.DagsterInstance, loop: Loop) -> None:
        self.home, self.instance, self.loop = home, instance, loop
        self.registry = ModelRegistry(bentoml_home(home))
        self.lake = Lake(root=str(home / "lake"))
        self.reports: list[DayReport] = []
        self.champions: list[str | None] = []  # the champion at the end of each day

    def metadata(self, asset: str, day: date) -> dict:
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(day)]),
            limit=1,
        ).records
        assert records, f"{asset} {day} was never materialised"
        materialization = records[0].asset_materialization
        assert materialization is not None
        return {k: v.value for k, v in materialization.metadata.items()}

    def retrain_runs(self) -> list[dg.DagsterRun]:
        return sorted(
            self.instance.get_runs(dg.RunsFilter(job_name="retrain")),
            key=lambda run: run.tags[THROUGH],
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    from pipelines.definitions import build_definitions

    home = tmp_path_factory.mktemp("loop")
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        patch.setenv("FLIGHTPATH_HOME", str(home))
        defs = build_definitions()
        loop = Loop(instance, defs)
        bootstrap = loop.bootstrap(BOOTSTRAP)
        assert all(run.success for run in bootstrap), [r.error for r in bootstrap if not r.success]
        story = Scenario(home, instance, loop)
        with serving(home, FLIGHTPATH_RATE_LIMIT="100000") as client:
            loop.serve = service_client(
                loop.lake, client, story.registry, loop.feature_store.store()
            )
            for day in DAYS:
                story.reports.append(loop.advance(day))
                story.champions.append(story.registry.alias(CHAMPION))
        yield story


def test_every_run_of_the_loop_succeeds_or_is_a_gate_refusal(scenario: Scenario) -> None:
    for report in scenario.reports:
        for run in report.runs:
            assert run.success or (run.job == "retrain" and "promotion_gate" in str(run.error)), run
    jobs = {run.job for report in scenario.reports for run in report.runs}
    assert {"daily_ingest", "__ASSET_JOB", "daily_batch_predictions"} <= jobs


def test_the_sensor_retrains_for_the_alerts_the_monitors_reported(scenario: Scenario) -> None:
    by_sensor = [r for r in scenario.retrain_runs() if r.tags.get("dagster/sensor_name")]
    assert by_sensor, "drift against a champion trained on January must trigger a retraining"
    for run in by_sensor:
        assert run.tags["dagster/sensor_name"] == "retrain_sensor"
        assert run.tags[TRIGGER] == "retrain_sensor"
        reason = run.tags[REASON]
        day = date.fromisoformat(run.tags[ALERT_DAY])
        reported = (
            scenario.metadata("feature_drift", day)["alerts"]
            + scenario.metadata("live_performance", day)["alerts"]
        )
        assert reported and all(alert in reason for alert in reported)
        # Each feature named crossed the threshold in the lake's drift table, and may alert.
        table = scenario.lake.read_partition("feature_drift", day).set_index("feature")
        for feature, psi in re.findall(r"feature drift: (\w+) PSI ([\d.]+)", reason):
            assert feature not in NOT_ALERTING
            assert table.loc[feature, "psi"] > POLICY.feature_psi
            assert float(psi) == pytest.approx(table.loc[feature, "psi"], abs=1e-3)


def test_the_cool_down_holds_retraining_back(scenario: Scenario) -> None:
    runs = scenario.retrain_runs()
    throughs = [date.fromisoformat(r.tags[THROUGH]) for r in runs]
    assert throughs[0] == BOOTSTRAP
    assert all((b - a).days >= POLICY.cooldown_days for a, b in itertools.pairwise(throughs))
    # Alerts came before the cool-down ended, and were not acted on.
    early = [d for d in DAYS if (d - BOOTSTRAP).days < POLICY.cooldown_days]
    assert any(scenario.metadata("feature_drift", d)["alerts"] for d in early)
    assert throughs[1] - BOOTSTRAP >= timedelta(days=POLICY.cooldown_days)


def test_the_gate_decides_as_its_rule_says_and_the_service_follows(scenario: Scenario) -> None:
    # The latest retraining's evaluation, recomputed from the scores it wrote.
    last = scenario.retrain_runs()[-1]
    [record] = scenario.instance.fetch_materializations(
        dg.AssetKey("model_evaluation"), limit=1
    ).records
    assert record.run_id == last.run_id and record.asset_materialization is not None
    decision: Any = record.asset_materialization.metadata["decision"].value
    rows = scenario.lake.read_table("model_evaluation_scores")
    verdicts = decide(rows, decision["candidates"], decision["reference"], GateRules())
    winner = next((v.candidate for v in verdicts if v.promote), None)
    assert winner == decision["winner"]
    assert last.is_success == (winner is not None)  # the gate blocks the rest of the run

    # Whatever the gate decided, the next day's answers come from the champion of that moment.
    for i, report in enumerate(scenario.reports[1:], start=1):
        assert set(report.served_by) == {scenario.champions[i - 1]}, report.day
    promoted = [c for c in dict.fromkeys(scenario.champions)]
    assert len(promoted) >= 2, "no retraining was promoted: the service never switched"


def test_live_performance_appears_once_labels_land(scenario: Scenario) -> None:
    daily: dict[str, list[float]] = {"batch": [], "champion": []}
    for day in DAYS:
        metadata = scenario.metadata("live_performance", day)
        rows = scenario.lake.read_partition("live_performance", day)
        assert set(rows["role"]) == {"champion", "shadow", "batch"}
        assert rows["label"].notna().all() and metadata["dagster/row_count"] == len(rows)
        # Every answer the service logged for the day, and every flight of the batch, is there.
        log = pd.read_parquet(scenario.home / "lake" / "prediction_log" / f"date={day}")
        labelled = set(rows["flight_id"])
        assert set(log["flight_id"]) & labelled == set(
            rows.loc[rows.role == "champion", "flight_id"]
        )
        # Each role's number is the day's labelled rows scored again (one model per role a day).
        for role, part in rows.groupby("role"):
            expected = roc_auc_score(part["label"], part["probability"])
            assert metadata[f"roc_auc/{role}"] == pytest.approx(expected), (day, role)
        for role in daily:
            daily[role].append(metadata[f"roc_auc/{role}"])
    # Point-in-time features (the batch) and the live online store hour by hour (the service)
    # both carry the model's signal.
    means = {role: sum(values) / len(values) for role, values in daily.items()}
    assert means["batch"] > 0.6 and means["champion"] > 0.6, means
    # A trailing week of labelled flights is judged against the champion's test ROC-AUC.
    assert "trailing_roc_auc" in scenario.metadata("live_performance", DAYS[-1])


def test_a_served_prediction_traces_back_to_its_retraining(scenario: Scenario) -> None:
    log = pd.read_parquet(scenario.home / "lake" / "prediction_log" / f"date={DAYS[-1]}")
    served = log[log["role"] == "champion"].iloc[0]
    lineage = trace(scenario.home, scenario.instance, served["request_id"])
    [model] = [m for m in lineage.models if m.tag == served["model"]]
    run = next(r for r in scenario.retrain_runs() if r.run_id == model.training_run.run_id)  # type: ignore[union-attr]
    assert model.training_run.tags.get(REASON) == run.tags[REASON]  # type: ignore[union-attr]
    assert model.training_set.partitions.last == run.tags[THROUGH]  # type: ignore[union-attr]


def test_the_weekly_schedule_skips_when_nothing_new_landed(scenario: Scenario) -> None:
    registry = ModelRegistryResource(home=str(scenario.home))
    latest = scenario.retrain_runs()[-1].tags[THROUGH]
    # Closed here: a context with resources that is left to the garbage collector restores
    # Dagster's current state storage to this module's instance, long after it is gone.
    with dg.build_schedule_context(
        instance=scenario.instance, resources={"model_registry": registry}
    ) as context:
        outcome = weekly_retrain(context)
    if latest == DAYS[-1].isoformat():
        assert isinstance(outcome, dg.SkipReason) and "nothing landed" in str(outcome.skip_message)
    else:
        assert isinstance(outcome, dg.RunRequest)
        assert (
            outcome.tags[THROUGH] == DAYS[-1].isoformat()
            and outcome.tags[TRIGGER] == "weekly_retrain"
        )
