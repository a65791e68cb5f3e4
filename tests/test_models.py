"""Training, evaluation, the gate and the registry through real Dagster runs on January data."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import torch
import yaml

from apps.cli import main
from apps.lineage import LineageError, render, trace
from assets import delay_models, serving
from assets.features import feature_store
from assets.kit.bento import BENTOFILE
from assets.monitoring.drift_reference import NUMERIC, SAVED, model_profile
from bentos.prediction_log import PredictionLog
from bentos.schema import Flight
from bentos.service import _log_row
from flightpath.home import bentoml_home
from flightpath.models.artifacts import MANIFEST
from flightpath.models.registry import CHALLENGER, CHAMPION, ModelRegistry
from flightpath.monitoring.profile import PROFILE_FILE, SCORE, ReferenceProfile
from flightpath.run_tags import REASON
from resources.lake import Lake
from tests.conftest import JANUARY_DAYS
from tests.model_data import (
    days_between,
    materialize_registry,
    resources,
    split_config,
    write_features,
)
from tests.serving import clone_model

START, TRAIN_END, VALID_END, TEST_END = "2013-01-01", "2013-01-12", "2013-01-15", "2013-01-20"
MODEL_ASSETS = [
    feature_store.training_set,
    delay_models.delay_model_lgbm,
    delay_models.delay_model_torch,
    delay_models.model_evaluation,
    delay_models.champion,
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
    # Who promoted it is on the record, in the registry's log and in the asset's metadata.
    [promoted] = [c for c in registry.history() if c.alias == CHAMPION and c.tag == winner]
    assert promoted.actor == f"dagster run {first_run.run_id}"
    event = _metadata(first_run, "champion")["promotion"]
    assert event["actor"] == promoted.actor and event["reason"] == promoted.reason
    assert event["at"] == promoted.at and event["action"] == "promote"


def test_model_evaluation_tables_name_roles_and_each_tag_once(
    first_run: dg.ExecuteInProcessResult,
) -> None:
    """Tags are too wide to head columns: the tables name roles; `models` says each tag once."""
    metadata = _metadata(first_run, "model_evaluation")
    decision, models = metadata["decision"], metadata["models"]
    tags = [*decision["candidates"], "naive_baseline"]
    assert sorted(r.data["model"] for r in models.records) == sorted(tags)  # each tag once
    role = {r.data["model"]: r.data["role"] for r in models.records}
    assert sorted(role.values()) == ["baseline", "lgbm", "torch"]
    for name in ("metrics", "slices"):
        table = metadata[name]
        columns = [c.name for c in table.schema.columns]
        assert set(role.values()) <= set(columns), name  # no `name:tag` column to clip it
        assert max(len(c) for c in columns) < 12, name
        assert not any(
            tag in str(v) for r in table.records for v in r.data.values() for tag in tags[:2]
        )
    assert metadata["summary"].startswith(f"**promote {role[decision['winner']]}**")


def test_a_champion_broken_on_disk_is_set_aside_and_the_run_still_ends(
    first_run: dg.ExecuteInProcessResult, model_home: Path, tmp_path: Path
) -> None:
    """Its model.txt truncated (LightGBM would crash on it): the candidates are held to the
    naive baseline instead, and the run ends, promoting one."""
    home = tmp_path / "home"
    shutil.copytree(model_home, home, ignore=shutil.ignore_patterns("serve-*.log"))
    registry = _registry(home)
    trained = str(registry.latest("delay_model_lgbm").tag)
    broken = clone_model(registry, trained)  # an earlier champion, broken on disk since
    registry.promote(broken, "the champion before this training")
    model_file = Path(registry.get(broken).path) / "model.txt"
    model_file.write_bytes(model_file.read_bytes()[:-800])
    clone_model(registry, trained)  # this training's LightGBM candidate (the latest)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [delay_models.model_evaluation, delay_models.champion], resources=resources(home),
        run_config={"ops": {"model_evaluation": {"config": {"max_ece": 0.1}}}},
        instance=instance, raise_on_error=False,
    )  # fmt: skip
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    decision = _metadata(result, "model_evaluation")["decision"]
    assert broken in decision["champion_refused"] and "model.txt" in decision["champion_refused"]
    assert decision["champion"] is None and decision["reference"] == "naive_baseline"
    assert registry.alias(CHAMPION) == decision["winner"] != broken


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


def test_models_carry_their_drift_profile_and_older_models_fall_back_to_the_lake(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    registry, lake = _registry(model_home), Lake(root=str(model_home / "lake"))
    tag = str(registry.latest("delay_model_lgbm").tag)
    assert PROFILE_FILE in json.loads((Path(registry.get(tag).path) / MANIFEST).read_text())
    saved, source = model_profile(lake, registry, tag)
    assert source == SAVED
    described = registry.metadata(tag)["drift_profile"]
    assert described["rows"][SCORE] == registry.metadata(tag)["rows"]["test"]
    assert described["rows"][NUMERIC[0]] == registry.metadata(tag)["rows"]["train"]

    # A model saved before profiles: the same model without the file.
    older = clone_model(registry, tag)
    assert registry.drift_profile(older) is None
    computed, source = model_profile(lake, registry, older)
    assert source.startswith("computed from the reference rows")
    assert lake.table_path(f"drift_profile/{older.replace(':', '-')}").exists()
    # The lake's training set is the one the model trained on: the same profile, to the bit.
    features = [name for name in saved.features if name != SCORE]
    assert (
        ReferenceProfile({n: saved.features[n] for n in features})
        .to_frame()
        .equals(ReferenceProfile({n: computed.features[n] for n in features}).to_frame())
    )
    assert computed.features[SCORE].rows == saved.features[SCORE].rows
    again, _ = model_profile(lake, registry, older)  # read back from the lake this time
    by_entry = ["feature", "entry", "position"]
    assert (
        again.to_frame().sort_values(by_entry, ignore_index=True)
        .equals(computed.to_frame().sort_values(by_entry, ignore_index=True))
    )  # fmt: skip


def test_artifacts_are_safe_formats_and_reload_to_the_same_scores(
    first_run: dg.ExecuteInProcessResult, model_home: Path
) -> None:
    registry = _registry(model_home)
    scored = Lake(root=str(model_home / "lake")).read_table("model_evaluation_scores")
    # The models the first run trained and scored (other tests save later versions).
    scored_tags = {column.split(":")[0]: column for column in scored.columns if ":" in column}
    lgbm = registry.get(scored_tags["delay_model_lgbm"])
    mlp = registry.get(scored_tags["delay_model_torch"])
    assert (Path(lgbm.path) / "model.txt").read_text().startswith("tree")
    state = torch.load(Path(mlp.path) / "weights.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    for model in (lgbm, mlp):
        assert not list(Path(model.path).glob("*.pkl"))
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
    metadata = _metadata(second, "model_evaluation")
    assert metadata["summary"].startswith("**keep champion**")  # decision.champion names it
    assert metadata["decision"]["champion"] == champion_before
    assert "champion" in [c.name for c in metadata["slices"].schema.columns]


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
    # Its image installs the committed lock, every package pinned.
    installs = (bentoml_home(model_home) / "bentos" / name / version / "env" / "python"
                / "requirements.txt").read_text().splitlines()  # fmt: skip
    locked = BENTOFILE.with_name("requirements.lock.txt").read_text().splitlines()
    assert "torch==2.13.0" in locked and set(locked) <= set(installs)


# --- lineage: from a prediction back to the run, the data and the code ---

REQUEST_PREFIX = "abcdef"  # both logged requests start with it: a prefix that names two


def _materializations(
    instance: dg.DagsterInstance, run_id: str
) -> dict[str, tuple[dg.EventLogEntry, dg.AssetMaterialization]]:
    """A run's materialisations as the Dagster instance recorded them, by asset."""
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        assert materialization is not None
        found[materialization.asset_key.path[-1]] = (entry, materialization)
    return found


@pytest.fixture(scope="module")
def logged_request(first_run: dg.ExecuteInProcessResult, model_home: Path) -> dict[str, Any]:
    """Two requests in the prediction log, as the service writes them: champion, canary, shadow."""
    decision = _metadata(first_run, "model_evaluation")["decision"]
    champion = decision["winner"]
    [challenger] = [tag for tag in decision["candidates"] if tag != champion]
    lake = Lake(root=str(model_home / "lake"))
    rows = lake.read_partition("flights", date(2013, 1, 18)).dropna(subset=["tailnum"]).head(4)
    flights = [
        Flight(
            carrier=r.carrier,
            flight=int(r.flight),
            tailnum=r.tailnum,
            origin=r.origin,
            dest=r.dest,
            sched_dep=r.sched_dep_utc.to_pydatetime(),
        )
        for r in rows.itertuples()
    ]
    ids = [str(r) for r in rows["flight_id"]]
    request, other = (REQUEST_PREFIX + uuid.uuid4().hex[6:] for _ in range(2))
    logged = [
        _log_row(
            request, ids[0], flights[0], champion, "champion", 0.21, {"origin": "EWR"}, [], {}, {}
        ),
        _log_row(request, ids[1], flights[1], champion, "champion", 0.62, {}, ["aircraft"], {}, {}),
        _log_row(request, ids[2], flights[2], challenger, "canary", 0.35, {}, [], {}, {}),
        _log_row(request, ids[0], flights[0], challenger, "shadow", 0.25, {}, [], {}, {}),
        _log_row(request, ids[1], flights[1], challenger, "shadow", 0.58, {}, [], {}, {}),
        _log_row(other, ids[3], flights[3], champion, "champion", 0.11, {}, [], {}, {}),
    ]
    log = PredictionLog(model_home / "lake" / "prediction_log", max_seconds=3600)
    log.append(logged)
    log.close()
    return {"request": request, "champion": champion, "challenger": challenger, "flights": ids}


def test_a_model_tag_traces_to_its_run_training_set_partitions_and_code(
    first_run: dg.ExecuteInProcessResult, model_home: Path, instance: dg.DagsterInstance
) -> None:
    tag = _metadata(first_run, "delay_model_lgbm")["tag"]
    instance.add_run_tags(first_run.run_id, {REASON: "feature drift on dep_delay_1h"})
    lineage = trace(model_home, instance, tag)
    assert lineage.kind == "model" and [m.tag for m in lineage.models] == [tag]
    [model] = lineage.models
    # The run that trained it: the run of its materialisation in the Dagster instance.
    recorded = _materializations(instance, first_run.run_id)
    entry, materialization = recorded["delay_model_lgbm"]
    assert materialization.metadata["tag"].value == tag
    assert model.training_run is not None and model.training_run.run_id == entry.run_id
    run = instance.get_run_by_id(entry.run_id)
    assert run is not None
    assert model.training_run.found and model.training_run.job == run.job_name
    assert model.training_run.status == "SUCCESS" and model.training_run.started
    assert model.training_run.retrain_reason == "feature drift on dep_delay_1h"
    # The training set: what its own materialisation recorded.
    set_entry, training_set = recorded["training_set"]
    assert model.training_set is not None and model.training_set.run is not None
    assert model.training_set.run.run_id == set_entry.run_id
    assert model.training_set.data_version == (training_set.tags or {})["dagster/data_version"]
    versions: Any = training_set.metadata["feature_partitions"].value
    assert model.training_set.partitions.versions == versions and len(versions) == 20
    assert model.training_set.partitions.summary() == "2013-01-01..2013-01-20 (20 partitions)"
    assert model.training_set.window == training_set.metadata["window"].value
    assert model.training_set.rows == training_set.metadata["dagster/row_count"].value
    # The same links on the model's materialisation, for the UI.
    ui = materialization.metadata
    assert isinstance(ui["training_set_run"], dg.DagsterRunMetadataValue)
    assert ui["training_set_run"].run_id == set_entry.run_id
    summarised: Any = ui["feature_partitions"].value
    assert summarised["versions"] == versions and summarised["count"] == 20
    assert summarised["range"] == model.training_set.partitions.summary()
    assert ui["feature_service"].value == model.feature_service == "delay_model_training"
    assert ui["training_set_window"].value == model.training_set.window
    assert ui["code_version"].value == model.code_version
    assert len(model.code_version["source"]) == 12
    assert model.split == {"train_start": START, "train_end": TRAIN_END,
                           "valid_end": VALID_END, "test_end": TEST_END}  # fmt: skip
    assert model.test_metrics["roc_auc"] == ui["test_roc_auc"].value
    # Its alias changes, and only its own.
    assert model.alias_history and all(tag in (c.tag, c.previous) for c in model.alias_history)
    assert any(c.action == "promote" and c.tag == tag for c in model.alias_history)

    text = render(lineage)
    for expected in (
        tag,
        first_run.run_id,
        run.job_name,
        "2013-01-01..2013-01-20 (20 partitions)",
        "delay_model_training",
        model.code_version["source"],
        "retrain reason: feature drift on dep_delay_1h",
    ):
        assert expected in text, expected
    assert versions["2013-01-05"] not in text  # each partition's version only on request
    assert f"2013-01-05  {versions['2013-01-05']}" in render(lineage, partitions=True)


def test_a_request_id_traces_each_model_that_answered_it(
    first_run: dg.ExecuteInProcessResult,
    model_home: Path,
    instance: dg.DagsterInstance,
    logged_request: dict[str, Any],
) -> None:
    request, ids = logged_request["request"], logged_request["flights"]
    champion, challenger = logged_request["champion"], logged_request["challenger"]
    lineage = trace(model_home, instance, request)
    assert lineage.kind == "request" and lineage.request is not None
    assert lineage.request.request_id == request
    answered = [(p.role, p.key, p.model) for p in lineage.request.predictions]
    assert sorted(answered) == sorted([
        ("champion", ids[0], champion), ("champion", ids[1], champion),
        ("canary", ids[2], challenger), ("shadow", ids[0], challenger),
        ("shadow", ids[1], challenger),
    ])  # fmt: skip
    assert [p.role for p in lineage.request.predictions][:2] == ["champion", "champion"]
    degraded = [p.degraded for p in lineage.request.predictions if p.model == champion]
    assert degraded == [False, True]
    assert [m.tag for m in lineage.models] == [champion, challenger]
    for model in lineage.models:
        assert model.training_run is not None and model.training_run.run_id == first_run.run_id
        assert model.training_set is not None and len(model.training_set.partitions.versions) == 20
    by_prefix = trace(model_home, None, request[:10])
    assert by_prefix.request is not None and by_prefix.request.request_id == request
    with pytest.raises(LineageError, match="start of 2 request ids"):
        trace(model_home, None, REQUEST_PREFIX)


def test_cli_lineage_prints_the_chain_and_refuses_unknown_refs(
    first_run: dg.ExecuteInProcessResult,
    model_home: Path,
    logged_request: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLIGHTPATH_HOME", str(model_home))
    monkeypatch.setenv("DAGSTER_HOME", str(model_home / "dagster"))  # restored afterwards
    capsys.readouterr()
    assert main(["lineage", logged_request["request"]]) == 0
    out = capsys.readouterr().out
    for expected in (
        logged_request["request"],
        logged_request["champion"],
        logged_request["challenger"],
        first_run.run_id,
        "2013-01-01..2013-01-20 (20 partitions)",
        "delay_model_training",
    ):
        assert expected in out, expected
    # The CLI's instance is the data home's; these runs were in another (ephemeral) one.
    assert "not in this Dagster instance" in out

    champion = _registry(model_home).alias(CHAMPION)
    assert main(["lineage", "champion", "--json"]) == 0
    traced = json.loads(capsys.readouterr().out)
    assert traced["kind"] == "alias" and traced["models"][0]["tag"] == champion
    partitions = traced["models"][0]["training_set"]["partitions"]
    assert partitions["count"] == 20 and partitions["first"] == START
    assert partitions["versions"] == _metadata(first_run, "training_set")["feature_partitions"]
    assert main(["lineage", str(champion), "--partitions"]) == 0
    assert f"2013-01-20  {partitions['versions']['2013-01-20']}" in capsys.readouterr().out

    for ref, message in (
        ("0123456789abcdef0123456789abcdef", "no request 0123456789abcdef"),
        ("delay_model_lgbm:doesnotexist", "not a request id, a model tag"),
        ("nothing_of_the_kind", "not a request id, a model tag"),
        (REQUEST_PREFIX, "start of 2 request ids"),
    ):
        assert main(["lineage", ref]) == 1, ref
        captured = capsys.readouterr()
        assert message in captured.err and "Traceback" not in captured.err
        assert captured.out == ""
