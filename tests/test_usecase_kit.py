"""The lifecycle kit, proven on a second real use case: mortgage denials (HMDA) run from raw
rows to a champion and its monitoring, with every rule, gate and alarm tested both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster._core.utils import make_new_run_id

from apps.lineage import render, trace, usecase_log
from apps.service_process import running_service
from assets import delay_models
from assets.kit import lifecycle
from assets.kit.automation import retrain_sensor
from assets.kit.bento import ROOT, USECASE_SERVICE, usecase_bento_asset
from assets.kit.candidates import CandidateWindow, candidate_parts
from assets.kit.data import data_assets
from assets.kit.features import feature_assets
from assets.kit.models import model_assets
from assets.quality.verdict import PartitionBlockedError
from bentos.prediction_log import PredictionLog
from flightpath.home import bentoml_home
from flightpath.models.registry import CHAMPION
from flightpath.run_tags import REASON, TRIGGER
from flightpath.usecase import USECASE_VARIABLE, Holdout, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from tests.kit_resources import kit_resources
from usecases import USECASES
from usecases.flights.definition import FLIGHTS
from usecases.mortgage.definition import MORTGAGE

APPLICATIONS = MORTGAGE.load()


def _run(
    home: Path, instance: dg.DagsterInstance, usecase: UseCase = MORTGAGE,
    stages: tuple[str, ...] | None = None, tags: dict[str, str] | None = None,
) -> dg.ExecuteInJobResult:  # fmt: skip
    assets = list(lifecycle(usecase).assets or [])
    selection = None if stages is None else [dg.AssetKey([usecase.name, s]) for s in stages]
    return dg.materialize(
        assets, resources=kit_resources(home), instance=instance, selection=selection,
        raise_on_error=False, tags=tags,
    )  # fmt: skip


def _checks(result: dg.ExecuteInJobResult) -> dict[str, bool]:
    return {
        e.event_specific_data.check_name: e.event_specific_data.passed  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _loading(change: Callable[[pd.DataFrame], pd.DataFrame]) -> UseCase:
    """The mortgage use case over a changed copy of the applications (same assets, same names)."""
    return replace(MORTGAGE, load=lambda: change(APPLICATIONS.copy()))


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dg.DagsterInstance, dg.ExecuteInJobResult]:
    home = tmp_path_factory.mktemp("mortgage")
    instance = dg.DagsterInstance.ephemeral()
    return home, instance, _run(home, instance)


def test_the_whole_lifecycle_runs_from_raw_rows_to_a_monitored_champion(trained) -> None:
    home, _, result = trained
    assert result.success
    assert all(_checks(result).values()), _checks(result)
    lake = Lake(root=str(home / "lake"))
    training = lake.read_table("mortgage_training_set")
    assert len(training) == len(APPLICATIONS)
    # The label is the one rule, joined point-in-time through Feast with every feature.
    assert training["denied"].sum() == (APPLICATIONS["deny"] == "yes").sum()
    assert set(MORTGAGE.features) <= set(training.columns)
    registry = ModelRegistryResource(home=str(home)).registry()
    champion = registry.alias(MORTGAGE.champion_alias)
    assert champion is not None and champion.split(":")[0] in {"mortgage_lgbm", "mortgage_torch"}
    challenger = registry.alias(MORTGAGE.challenger_alias)  # the other candidate, shadowed
    assert challenger is not None
    assert {champion.split(":")[0], challenger.split(":")[0]} == {"mortgage_lgbm", "mortgage_torch"}
    assert registry.alias(CHAMPION) is None  # the flights alias is another namespace
    scored = lake.read_table("mortgage_batch_predictions")
    assert len(scored) == len(APPLICATIONS) and scored["model"].eq(champion).all()
    assert scored["probability"].between(0, 1).all()


def test_the_champion_traces_back_to_its_runs_and_training_set(trained) -> None:
    home, instance, result = trained
    lineage = trace(home, instance, MORTGAGE.champion_alias, usecase_log(MORTGAGE))
    [model] = lineage.models
    assert model.training_run is not None and model.training_run.run_id == result.run_id
    assert model.training_run.found and model.training_run.status == "SUCCESS"
    built = instance.get_latest_materialization_event(dg.AssetKey(["mortgage", "training_set"]))
    assert built is not None and model.training_set is not None
    assert model.training_set.run is not None and model.training_set.run.run_id == built.run_id
    assert model.training_set.rows == len(APPLICATIONS)
    assert model.feature_service == MORTGAGE.feature_service and "source" in model.code_version
    text = render(lineage)
    assert "by key" in text and "flight_features" not in text and "window" not in text


def test_the_champion_beats_the_naive_baseline_on_held_out_applications(trained) -> None:
    _, instance, _ = trained
    metadata = instance.get_latest_materialization_event(
        dg.AssetKey(["mortgage", "evaluation"])
    ).asset_materialization.metadata  # type: ignore[union-attr]
    decision = metadata["decision"].value
    winner = decision["winner"].split(":")[0]
    assert metadata[f"{winner}/roc_auc"].value > metadata["naive_baseline/roc_auc"].value + 0.05


def test_the_gate_keeps_the_champion_when_retraining_brings_nothing_new(trained) -> None:
    home, instance, _ = trained
    registry = ModelRegistryResource(home=str(home)).registry()
    before = registry.alias(MORTGAGE.champion_alias)
    again = _run(home, instance)  # the same data: the same models, no gain
    assert not again.success
    assert _checks(again)["promotion_gate"] is False
    assert registry.alias(MORTGAGE.champion_alias) == before


def test_bad_rows_are_quarantined_with_their_reasons(tmp_path: Path) -> None:
    def spoil(frame: pd.DataFrame) -> pd.DataFrame:
        frame["pirat"] = frame["pirat"].astype(object)
        frame.loc[0, "pirat"] = "high"
        frame.loc[1, "lvrat"] = 40.0
        frame.loc[2, "afam"] = "maybe"
        frame.loc[3, "deny"] = None
        frame.loc[4, "application_id"] = frame.loc[5, "application_id"]
        return frame

    result = _run(
        tmp_path,
        dg.DagsterInstance.ephemeral(),
        _loading(spoil),
        ("raw", "validated", "quarantine"),
    )
    assert result.success
    quarantine = Lake(root=str(tmp_path / "lake")).read_table("mortgage_quarantine")
    reasons = dict(zip(quarantine["source_row"], quarantine["reason"], strict=True))
    assert "pirat='high' is not a valid number" in reasons[0]
    assert reasons[1].startswith("in_range") and "lvrat=40.0" in reasons[1]
    assert reasons[2].startswith("known_values") and "afam='maybe'" in reasons[2]
    assert reasons[3].startswith("required_values_present")
    assert {4, 5} <= set(reasons) and reasons[4].startswith("key_unique")
    validated = Lake(root=str(tmp_path / "lake")).read_table("mortgage_validated")
    assert len(validated) == len(APPLICATIONS) - len(quarantine) == len(APPLICATIONS) - 6
    checks = _checks(result)
    assert not checks["in_range"] and not checks["known_values"] and checks["not_empty"]


def test_a_source_without_a_contract_column_fails_naming_the_source(tmp_path: Path) -> None:
    result = _run(
        tmp_path, dg.DagsterInstance.ephemeral(), _loading(lambda f: f.drop(columns=["lvrat"])),
        ("raw", "validated", "quarantine"),
    )  # fmt: skip
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.event_specific_data.error.cause  # type: ignore[union-attr]
    assert error.cls_name == PartitionBlockedError.__name__
    assert "mortgage_raw.parquet cannot be validated: required_columns: missing: ['lvrat']" in (
        error.message
    )


def test_a_definition_that_names_a_missing_column_or_learns_from_its_label_is_refused() -> None:
    with pytest.raises(ValueError, match=r"columns not in the contract: \['race'\]"):
        replace(MORTGAGE, slices=("race",))
    with pytest.raises(ValueError, match="the label's inputs cannot be features"):
        replace(MORTGAGE, categorical=(*MORTGAGE.categorical, "deny"))
    assert replace(MORTGAGE, slices=("afam",)).slices == ("afam",)


def _monitor(
    home: Path, instance: dg.DagsterInstance, usecase: UseCase, tags: dict[str, str] | None = None
) -> dg.ExecuteInJobResult:
    stages = ("raw", "validated", "quarantine", "features", "training_set",
              "batch_predictions", "drift", "live_performance")  # fmt: skip
    return _run(home, instance, usecase, stages, tags)


def test_drift_and_decay_alert_and_ask_for_a_retraining_only_when_they_happen(trained) -> None:
    home, instance, _ = trained
    sensor = retrain_sensor(MORTGAGE, dg.define_asset_job("mortgage_lifecycle"))
    quiet = _monitor(home, instance, MORTGAGE)
    assert _checks(quiet)["no_drift"] and _checks(quiet)["live_roc_auc_holds"]
    before = sensor(dg.build_sensor_context(instance=instance))
    assert before.run_requests == []

    drifted = _monitor(home, instance, _loading(_indebted))
    assert _checks(drifted)["no_drift"] is False
    # The bank decides the other way round: the champion's ranking no longer holds.
    flipped = _monitor(home, instance, _loading(
        lambda f: f.assign(deny=np.where(f["deny"] == "yes", "no", "yes"))))  # fmt: skip
    assert _checks(flipped)["live_roc_auc_holds"] is False
    after = sensor(dg.build_sensor_context(instance=instance, cursor=before.cursor))
    [request] = after.run_requests
    reason = request.tags[REASON]
    assert "feature drift: pirat PSI" in reason and "live performance: champion ROC-AUC" in reason


def _indebted(frame: pd.DataFrame) -> pd.DataFrame:
    """Applicants with twice the debt: the payment and housing ratios drift."""
    return frame.assign(pirat=frame["pirat"] * 2, hirat=frame["hirat"] * 2)


def test_a_retraining_that_still_alerts_asks_for_no_other_and_none_waits_twice(trained) -> None:
    home, instance, _ = trained
    job = dg.define_asset_job("mortgage_lifecycle")
    sensor = retrain_sensor(MORTGAGE, job)
    start = sensor(dg.build_sensor_context(instance=instance)).cursor  # what is there is judged

    # The retraining the sensor asked for monitors its champion on the rows it just trained on:
    # that it still alerts is not news, and asking again would retrain in a loop.
    own = _monitor(home, instance, _loading(_indebted), tags={TRIGGER: sensor.name})
    assert _checks(own)["no_drift"] is False
    quiet = sensor(dg.build_sensor_context(instance=instance, cursor=start))
    assert quiet.run_requests == []
    assert "still alerts" in str(quiet.skip_reason) and "pirat PSI" in str(quiet.skip_reason)

    # The next monitoring run of its own (the daily schedule's) that alerts asks again ...
    _monitor(home, instance, _loading(_indebted))
    asked = sensor(dg.build_sensor_context(instance=instance, cursor=quiet.cursor))
    [request] = asked.run_requests
    assert request.tags[TRIGGER] == sensor.name and "pirat PSI" in request.tags[REASON]

    # ... once: while that retraining runs, another alert adds no second one.
    running = dg.DagsterRun(job_name=job.name, run_id=make_new_run_id(), tags=request.tags,
                            status=dg.DagsterRunStatus.STARTED)  # fmt: skip
    instance.add_run(running)
    _monitor(home, instance, _loading(_indebted))
    waiting = sensor(dg.build_sensor_context(instance=instance, cursor=asked.cursor))
    assert waiting.run_requests == [] and "already queued or running" in str(waiting.skip_reason)


def test_an_event_time_use_case_tests_on_its_latest_rows_and_a_snapshot_by_key() -> None:
    hours = pd.Series(pd.date_range("2013-01-01", periods=2000, freq="h", tz="UTC"))
    times = hours.sample(frac=1, random_state=0)  # the training set is not in time order
    keys = pd.Series(range(2000), index=times.index)
    by_time = Holdout().windows(keys, times)
    assert times[by_time == "train"].max() < times[by_time == "valid"].min()
    assert times[by_time == "valid"].max() < times[by_time == "test"].min()
    shares = by_time.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.6, abs=0.01)
    assert shares["valid"] == pytest.approx(0.2, abs=0.01)
    assert shares["test"] == pytest.approx(0.2, abs=0.01)
    # A snapshot splits by key: the same window whatever else is in the frame, and no time order.
    by_key = Holdout().windows(keys, None)
    assert Holdout().windows(keys.iloc[:500], None).equals(by_key.iloc[:500])
    assert times[by_key == "train"].max() > times[by_key == "test"].min()


def test_dated_windows_are_all_four_days_and_a_snapshot_has_none() -> None:
    assert CandidateWindow().split() is None  # unset: the holdout's shares
    with pytest.raises(ValueError, match="all four days of the windows or none"):
        CandidateWindow(train_start="2013-01-01").split()
    split = CandidateWindow(train_start="2013-01-01", train_end="2013-01-10",
                            valid_end="2013-01-12", test_end="2013-01-14").split()  # fmt: skip
    with pytest.raises(ValueError, match="mortgage is a snapshot: it has no days to split on"):
        candidate_parts(MORTGAGE, APPLICATIONS, split)


def test_flights_model_stage_is_the_kits_under_the_names_it_published() -> None:
    """Flights is a use case: the kit builds its candidates, evaluation and champion from its
    definition, under the keys, tables, models and aliases its deployments already use; a use
    case that publishes nothing gets names derived from its own."""
    stage = (delay_models.delay_model_lgbm, delay_models.delay_model_torch,
             delay_models.model_evaluation, delay_models.champion)  # fmt: skip
    assert [a.key.to_user_string() for a in stage] == [
        "delay_model_lgbm", "delay_model_torch", "model_evaluation", "champion"
    ]  # fmt: skip
    built_by = {a.op.compute_fn.decorated_fn.__module__ for a in stage}  # type: ignore[union-attr]
    assert built_by == {"assets.kit.candidates", "assets.kit.evaluation", "assets.kit.models"}
    assert [a.key for a in model_assets(MORTGAGE)] == [
        dg.AssetKey(["mortgage", stage]) for stage in ("model_lgbm", "model_torch", "evaluation",
                                                        "champion")
    ]  # fmt: skip
    names = {u.name: (u.table("training_set"), u.model_prefix, u.champion_alias, u.rollback)
             for u in (FLIGHTS, MORTGAGE)}  # fmt: skip
    assert names == {
        "flights": ("training_set", "delay_model_", CHAMPION, "flightpath models rollback"),
        "mortgage": ("mortgage_training_set", "mortgage_", "mortgage/champion",
                     "flightpath usecase mortgage rollback"),
    }  # fmt: skip
    # Its data and features are its own (two tables a day, windows over every flight): the kit
    # refuses to build them rather than build something else.
    with pytest.raises(ValueError, match="flights lands its days itself"):
        data_assets(FLIGHTS)
    with pytest.raises(ValueError, match="flights computes its own features"):
        feature_assets(FLIGHTS)
    assert data_assets(MORTGAGE) and feature_assets(MORTGAGE)


def _imported_files(module: str, env: dict[str, str]) -> set[str]:
    """The repository's files a fresh interpreter has loaded once `module` is imported."""
    files = "[getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]"
    probe = f"import json, sys, {module}; print(json.dumps({files}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, env={**env, "PATH": ""}, check=True)  # fmt: skip
    paths = [Path(f) for f in json.loads(out.stdout.splitlines()[-1])]
    inside = (p.relative_to(ROOT).as_posix() for p in paths if p.is_relative_to(ROOT))
    return {path for path in inside if not path.startswith(".")}  # not a .venv in the checkout


def test_the_service_bento_holds_the_champion_and_answers_outside_the_checkout(
    trained, tmp_path: Path
) -> None:
    """Built with the champion and every module the service imports, it serves from the
    bento store, from a folder that is not the checkout."""
    home, instance, _ = trained
    bento_asset = usecase_bento_asset(MORTGAGE, USECASES["mortgage"])
    result = dg.materialize([bento_asset], resources=kit_resources(home), instance=instance)
    assert result.success
    [event] = result.get_asset_materialization_events()
    bento = str(event.materialization.metadata["bento"].value)
    name, version = bento.split(":")
    folder = bentoml_home(home) / "bentos" / name / version
    manifest = yaml.safe_load((folder / "bento.yaml").read_text())
    champion = ModelRegistryResource(home=str(home)).registry().alias(MORTGAGE.champion_alias)
    assert [m["tag"] for m in manifest["models"]] == [champion]
    assert manifest["service"] == USECASE_SERVICE and manifest["labels"]["use_case"] == "mortgage"
    envs = {e["name"]: e["value"] for e in manifest["envs"]}
    assert envs[USECASE_VARIABLE] == USECASES["mortgage"]  # the image's, for the Deployment
    # Every module of this repository the service imports is in the bento (an editable install
    # would otherwise find a missing one in the checkout, even outside it).
    ours = _imported_files("bentos.usecase_service", {USECASE_VARIABLE: USECASES["mortgage"]})
    assert "usecases/mortgage/definition.py" in ours and "bentos/usecase_service.py" in ours
    assert sorted(f for f in ours if not (folder / "src" / f).exists()) == []

    env = {USECASE_VARIABLE: USECASES["mortgage"], "FLIGHTPATH_AUTH": "off",
           "FLIGHTPATH_WORKERS": "1"}  # fmt: skip
    with running_service(home, env, target=bento, cwd=tmp_path) as client:
        answer = client.post("/predict", json={MORTGAGE.entity: [1]})
    assert answer.status_code == 200, answer.text
    [prediction] = answer.json()["predictions"]
    assert prediction["model"] == champion and 0 < prediction["probability"] < 1


def test_live_performance_scores_each_role_of_the_service_beside_the_batch(trained) -> None:
    """The service's logged answers (its last per id, model and role) are scored against the
    same outcomes as the batch: a table per model and role."""
    home, instance, _ = trained
    registry = ModelRegistryResource(home=str(home)).registry()
    champion, challenger = (registry.alias(a) for a in
                            (MORTGAGE.champion_alias, MORTGAGE.challenger_alias))  # fmt: skip
    lake = Lake(root=str(home / "lake"))
    training = lake.read_table(MORTGAGE.table("training_set"))
    held_out = training[MORTGAGE.windows(training) != "train"].head(200)
    labels = held_out[MORTGAGE.label].to_numpy(float)
    first, last = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)

    def answers(model: str | None, role: str, probabilities: np.ndarray, at: datetime) -> list:
        keys = held_out[MORTGAGE.entity]
        return [{MORTGAGE.entity: int(key), "model": model, "role": role, "probability": float(p),
                 "logged_at": at, "date": at.date().isoformat()}
                for key, p in zip(keys, probabilities, strict=True)]  # fmt: skip

    folder = lake.path(MORTGAGE.table("prediction_log"))
    log = PredictionLog(folder)
    log.append(answers(champion, "champion", 1 - labels, first))  # answered again later:
    log.append(answers(champion, "champion", labels, last))  # the last answer counts
    log.append(answers(challenger, "shadow", np.full(len(labels), 0.5), last))
    log.close()
    try:
        result = _run(home, instance, MORTGAGE, ("batch_predictions", "live_performance"))
        assert result.success
        [event] = [e for e in result.get_asset_materialization_events()
                   if e.asset_key == dg.AssetKey(["mortgage", "live_performance"])]  # fmt: skip
        table = event.materialization.metadata["by_model"].value
        scores = {(r.data["model"], r.data["role"]): r.data for r in table.records}
    finally:
        shutil.rmtree(folder)
    assert scores[(champion, "champion")]["rows"] == 200  # one answer an id, the last
    assert scores[(champion, "champion")]["roc_auc"] == 1.0
    assert scores[(challenger, "shadow")]["roc_auc"] == 0.5
    assert scores[(champion, "batch")]["rows"] > 200  # every held-out application
