"""Training, evaluation, the gate and the registry through real Dagster runs on January data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import torch
import yaml

from assets import serving
from assets.features import feature_store
from assets.models import evaluation, promotion, training
from flightpath.cli import main
from flightpath.models.registry import CHALLENGER, CHAMPION, ModelRegistry
from resources.lake import Lake
from resources.model_registry import bentoml_home
from tests.conftest import JANUARY_DAYS
from tests.model_data import (
    days_between,
    materialize_registry,
    resources,
    split_config,
    write_features,
)

START, TRAIN_END, VALID_END, TEST_END = "2013-01-01", "2013-01-12", "2013-01-15", "2013-01-20"
MODEL_ASSETS = [
    feature_store.training_set,
    training.delay_model_lgbm,
    training.delay_model_torch,
    evaluation.model_evaluation,
    promotion.champion,
]


def _train(home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    config = split_config(TRAIN_END, VALID_END, TEST_END, START)
    config["ops"]["training_set"] = {"config": {"start": START, "end": TEST_END}}
    # Five test days are too few for the year's calibration bar: the delay level moves by day.
    config["ops"]["model_evaluation"] = {"config": {"max_ece": 0.1}}
    return dg.materialize(
        MODEL_ASSETS, resources=resources(home), run_config=config, instance=instance,
        raise_on_error=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model_home(january_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("models")
    lake = Lake(root=str(home / "lake"))
    days = days_between(START, f"2013-01-{JANUARY_DAYS}")
    for table in ("flights", "weather"):
        for day in days:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    lake.write_table("raw_planes", january_lake.read_table("raw_planes"))
    write_features(lake, days)
    materialize_registry(home)
    return home


@pytest.fixture(scope="module")
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="module")
def first_run(model_home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return _train(model_home, instance)


def _registry(home: Path) -> ModelRegistry:
    return ModelRegistry(bentoml_home(home))


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]]
    materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_first_run_promotes_a_candidate_over_the_naive_baseline(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    assert first_run.success
    decision = _metadata(first_run, "model_evaluation")["decision"]
    assert decision["champion"] is None and decision["reference"] == "naive_baseline"
    winner = decision["winner"]
    assert winner in decision["candidates"]
    [verdict] = [v for v in decision["verdicts"] if v["candidate"] == winner]
    assert verdict["low"] > 0 and verdict["gain"] >= 0.002
    registry = _registry(model_home)
    assert registry.alias(CHAMPION) == winner
    assert registry.alias(CHALLENGER) in decision["candidates"]
    assert registry.alias(CHALLENGER) != winner
    [check] = first_run.get_asset_check_evaluations()
    assert check.check_name == "promotion_gate" and check.passed


def test_models_carry_their_lineage(first_run: dg.ExecuteInProcessResult, model_home: Path) -> None:
    registry = _registry(model_home)
    lake = Lake(root=str(model_home / "lake"))
    for name in ("delay_model_lgbm", "delay_model_torch"):
        metadata = dict(registry.latest(name).info.metadata)
        assert metadata["feature_service"] == "delay_model_training"
        assert metadata["split"] == {"train_start": START, "train_end": TRAIN_END,
                                     "valid_end": VALID_END, "test_end": TEST_END}  # fmt: skip
        lineage = metadata["training_set"]
        assert lineage["run_id"] == first_run.run_id
        assert (
            lineage["data_version"]
            == hashlib.sha256(lake.table_path("training_set").read_bytes()).hexdigest()[:16]
        )
        partitions = lineage["feature_partitions"]
        assert len(partitions) == 20
        day = days_between(START, TEST_END)[4]
        written = lake.partition_path("flight_features", day).read_bytes()
        assert partitions[day.isoformat()] == hashlib.sha256(written).hexdigest()[:16]
        assert metadata["dagster_run_id"] == first_run.run_id
        assert len(metadata["code_version"]["source"]) == 12
        assert metadata["metrics"]["test"]["roc_auc"] > 0.6
        assert metadata["rows"]["train"] > metadata["rows"]["test"] > 1000


def test_artifacts_are_safe_formats_and_reload_to_the_same_scores(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    registry = _registry(model_home)
    lgbm, mlp = registry.latest("delay_model_lgbm"), registry.latest("delay_model_torch")
    assert (Path(lgbm.path) / "model.txt").read_text().startswith("tree")
    state = torch.load(Path(mlp.path) / "weights.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    for model in (lgbm, mlp):
        assert not list(Path(model.path).glob("*.pkl"))
    scored = Lake(root=str(model_home / "lake")).read_table("model_evaluation_scores")
    test = Lake(root=str(model_home / "lake")).read_table("training_set")
    test = test.set_index("flight_id").loc[scored["flight_id"]].reset_index()
    for model in (lgbm, mlp):
        reloaded = registry.load(str(model.tag))
        predicted = reloaded.predict(reloaded.spec.matrix(test))
        assert predicted == pytest.approx(scored[str(model.tag)].to_numpy(), abs=1e-6)


def test_a_candidate_no_better_than_the_champion_is_refused(
    first_run: dg.ExecuteInProcessResult, model_home: Path, instance: dg.DagsterInstance
) -> None:
    champion_before = _registry(model_home).alias(CHAMPION)
    second = _train(model_home, instance)  # same data, same seeds: the same models again
    assert not second.success
    [check] = second.get_asset_check_evaluations()
    assert check.check_name == "promotion_gate" and not check.passed
    verdicts = check.metadata["verdicts"].value
    assert all(not v["promote"] and v["reference"] == champion_before for v in verdicts)
    assert any("does not exclude zero" in reason for v in verdicts for reason in v["reasons"])
    materialized = {e.asset_key.path[0] for e in second.get_asset_materialization_events()}
    assert "model_evaluation" in materialized and "champion" not in materialized
    assert _registry(model_home).alias(CHAMPION) == champion_before
    summary = _metadata(second, "model_evaluation")["summary"]
    assert summary.startswith(f"keep {champion_before}")


def test_cli_promotes_by_hand_and_rolls_back(
    first_run: dg.ExecuteInProcessResult,
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLIGHTPATH_HOME", str(model_home))
    registry = _registry(model_home)
    champion = registry.alias(CHAMPION)
    other = next(str(m.tag) for m in registry.models() if str(m.tag) != champion)
    assert main(["models", "promote", other, "--reason", "canary looked good"]) == 0
    assert registry.alias(CHAMPION) == other
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    [row] = [line for line in listing.splitlines() if line.startswith(other)]
    assert "champion" in row.rsplit("  ", 1)[-1].split(", ")
    assert main(["models", "rollback"]) == 0
    assert registry.alias(CHAMPION) == champion
    last_two = registry.history()[-2:]
    assert [c.action for c in last_two] == ["promote", "rollback"]
    assert "canary looked good" in last_two[0].reason
    assert last_two[1].tag == champion and last_two[1].previous == other
    assert main(["models", "promote", "delay_model_lgbm:doesnotexist"]) == 1
    assert "no model" in capsys.readouterr().err
    assert registry.alias(CHAMPION) == champion


def test_batch_predictions_score_the_day_as_training_would(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    day = "2013-01-18"
    result = dg.materialize([serving.batch_predictions], partition_key=day,
                            resources=resources(model_home))  # fmt: skip
    assert result.success
    lake = Lake(root=str(model_home / "lake"))
    scored = lake.read_partition("batch_predictions", pd.Timestamp(day).date())
    flights = lake.read_partition("flights", pd.Timestamp(day).date())
    assert sorted(scored["flight_id"]) == sorted(flights["flight_id"])  # cancelled ones too
    registry = _registry(model_home)
    assert set(scored["model"]) == {registry.alias(CHAMPION)}
    assert scored["probability"].between(0, 1).all()
    # The same flights in the training set (labelled ones) score the same: one feature path.
    training_rows = lake.read_table("training_set")
    training_rows = training_rows[training_rows["flight_id"].isin(scored["flight_id"])]
    model = registry.load(str(registry.alias(CHAMPION)))
    expected = pd.Series(model.predict(model.spec.matrix(training_rows)),
                         index=training_rows["flight_id"])  # fmt: skip
    got = scored.set_index("flight_id").loc[expected.index, "probability"]
    assert len(expected) > 500 and got.to_numpy() == pytest.approx(expected.to_numpy())


def test_the_bento_packages_the_service_with_the_champion(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    result = dg.materialize([serving.delay_service_bento], resources=resources(model_home))
    assert result.success
    bento = _metadata(result, "delay_service_bento")["bento"]
    name, version = bento.split(":")
    manifest = yaml.safe_load(
        (bentoml_home(model_home) / "bentos" / name / version / "bento.yaml").read_text()
    )
    champion = _registry(model_home).alias(CHAMPION)
    assert [m["tag"] for m in manifest["models"]] == [champion]
    assert manifest["service"] == "bentos.service:DelayService"
    files = {p.name for p in (bentoml_home(model_home) / "bentos" / name / version).rglob("*.py")}
    assert {"service.py", "online.py", "registry.py", "transforms.py"} <= files
