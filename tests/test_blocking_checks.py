"""Blocking checks on `flights` stop what is downstream of a bad day, and stay quiet on a clean one.

Real Dagster runs: the day's raw and validated assets plus an asset downstream of `flights`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, validation
from assets.ingestion import judge_landed_flights
from assets.partitions import daily_partitions
from assets.quality.verdict import Verdict
from assets.validation import MAX_QUARANTINE_SHARE, validated_asset
from flightpath.quality.contracts import FLIGHTS
from resources.lake import Lake
from tests.conftest import make_resources

DAY = date(2013, 1, 2)


@dg.asset(partitions_def=daily_partitions, deps=["flights"])
def downstream_of_flights() -> None:
    """Stands for the feature assets: runs only if `flights` passed its blocking checks."""


def _land(landed_home: Path, home: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    name = f"flights/{DAY.isoformat()}.parquet"
    flights = pd.read_parquet(landed_home / "landing" / name)
    target = home / "landing" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    change(flights).to_parquet(target, index=False)


def _run(
    home: Path, validate: dg.AssetsDefinition = validation.validate_flights
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ingestion.raw_flights, validate, downstream_of_flights],
        partition_key=DAY.isoformat(),
        resources=make_resources(home),
        raise_on_error=False,
    )


def _too_many_bad_rows(flights: pd.DataFrame) -> pd.DataFrame:
    bad = int(len(flights) * MAX_QUARANTINE_SHARE) + 10
    flights.loc[: bad - 1, "distance"] = -1
    return flights


def _judge_writing_a_flight_twice(raw: pd.DataFrame, day: date, lake: Lake) -> Verdict:
    # A defect no row rule can see (the judge itself repeats a valid row), so `key_unique` on
    # the written partition is the last line: a rule-preserving duplicate.
    verdict = judge_landed_flights(raw, day, lake)
    verdict.valid = pd.concat([verdict.valid, verdict.valid.iloc[[40]]], ignore_index=True)
    return verdict


@pytest.mark.parametrize(
    ("change", "judge", "check"),
    [
        pytest.param(
            _too_many_bad_rows, judge_landed_flights, "quarantine_share", id="quarantine_share"
        ),
        pytest.param(
            lambda flights: flights, _judge_writing_a_flight_twice, "key_unique", id="key_unique"
        ),
    ],
)
def test_a_failing_blocking_check_stops_downstream(
    landed_home: Path,
    fresh_home: Path,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    judge: Callable[[pd.DataFrame, date, Lake], Verdict],
    check: str,
) -> None:
    _land(landed_home, fresh_home, change)

    result = _run(fresh_home, validated_asset(FLIGHTS, judge, ["raw_airlines", "airports"]))

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations[check].asset_key == dg.AssetKey("flights")
    assert evaluations[check].passed is False
    assert evaluations[check].severity is dg.AssetCheckSeverity.ERROR
    assert not result.success
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "flights" in materialised  # written (and consistent with raw_flights) but held back
    assert "downstream_of_flights" not in materialised


def test_blocking_checks_are_quiet_on_a_clean_day(landed_home: Path, fresh_home: Path) -> None:
    _land(landed_home, fresh_home, lambda flights: flights)

    result = _run(fresh_home)

    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["quarantine_share"].passed and evaluations["key_unique"].passed
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "downstream_of_flights" in materialised


def test_flights_checks_are_blocking() -> None:
    specs = {spec.name: spec for spec in validation.validate_flights.check_specs}
    assert specs["quarantine_share"].blocking and specs["key_unique"].blocking


def test_a_failing_check_names_the_file_and_the_columns(
    landed_home: Path, fresh_home: Path
) -> None:
    _land(landed_home, fresh_home, lambda flights: flights)

    result = _run(
        fresh_home,
        validated_asset(FLIGHTS, _judge_writing_a_flight_twice, ["raw_airlines", "airports"]),
    )

    (key_unique,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "key_unique"
    ]
    source = fresh_home / "landing" / "flights" / f"{DAY.isoformat()}.parquet"
    assert key_unique.metadata["source_file"].value == str(source)
    assert key_unique.metadata["columns"].value == "carrier, flight, origin, sched_dep_utc"
    assert key_unique.metadata["duplicate_keys"].value == 1
