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
from assets.partitions import daily_partitions
from assets.validation import MAX_QUARANTINE_SHARE
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


def _run(home: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ingestion.raw_flights, validation.validate_flights, downstream_of_flights],
        partition_key=DAY.isoformat(),
        resources=make_resources(home),
        raise_on_error=False,
    )


def _too_many_bad_rows(flights: pd.DataFrame) -> pd.DataFrame:
    bad = int(len(flights) * MAX_QUARANTINE_SHARE) + 10
    flights.loc[: bad - 1, "distance"] = -1
    return flights


def _same_flight_a_tenth_of_a_microsecond_later(flights: pd.DataFrame) -> pd.DataFrame:
    # Distinct to the rules (nanosecond instants), the same key once the lake stores
    # microseconds: the rows collide only in the written partition, where `key_unique` looks.
    again = flights.iloc[[40]].copy()
    again["time_hour"] = again["time_hour"].str.replace("Z", ".0000001Z")
    return pd.concat([flights, again], ignore_index=True)


@pytest.mark.parametrize(
    ("change", "check"),
    [
        pytest.param(_too_many_bad_rows, "quarantine_share", id="quarantine_share"),
        pytest.param(_same_flight_a_tenth_of_a_microsecond_later, "key_unique", id="key_unique"),
    ],
)
def test_a_failing_blocking_check_stops_downstream(
    landed_home: Path,
    fresh_home: Path,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    check: str,
) -> None:
    _land(landed_home, fresh_home, change)

    result = _run(fresh_home)

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
    _land(landed_home, fresh_home, _same_flight_a_tenth_of_a_microsecond_later)

    result = _run(fresh_home)

    (key_unique,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "key_unique"
    ]
    source = fresh_home / "landing" / "flights" / f"{DAY.isoformat()}.parquet"
    assert key_unique.metadata["source_file"].value == str(source)
    assert key_unique.metadata["columns"].value == "carrier, flight, origin, sched_dep_utc"
    assert key_unique.metadata["duplicate_keys"].value == 1
