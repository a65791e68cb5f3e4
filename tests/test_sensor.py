"""The landing sensor asks for one run per newly landed day, and never twice."""

import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, validation
from flightpath.landing import LandingFileError
from flightpath.replay import replay
from pipelines.sensors import MISSING_TABLE_GRACE, REFERENCE_KEYS, landing_sensor
from resources.landing import LandingZone
from tests.conftest import make_resources

DAILY = {"raw_flights", "flights", "quarantine_flights", "raw_weather", "weather",
         "quarantine_weather"}  # fmt: skip


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def _tick(
    instance: dg.DagsterInstance, landing: LandingZone, cursor: str | None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": landing}
    )
    result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _reference_materialised(instance: dg.DagsterInstance) -> None:
    for key in REFERENCE_KEYS:
        instance.report_runless_asset_event(dg.AssetMaterialization(key))


def _landing(home: Path, through: date) -> LandingZone:
    landing: LandingZone = make_resources(home)["landing"]  # type: ignore[assignment]
    replay(landing, through, progress=False)
    return landing


def test_days_wait_for_the_reference_tables(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    landing = _landing(tmp_path, date(2013, 1, 2))
    first = _tick(instance, landing, None)
    assert [r.job_name for r in first.run_requests or []] == ["reference_ingest"]

    waiting = _tick(instance, landing, first.cursor)
    assert not waiting.run_requests, "reference already requested; days still wait"

    _reference_materialised(instance)
    ready = _tick(instance, landing, waiting.cursor)
    assert [(r.job_name, r.partition_key) for r in ready.run_requests or []] == [
        ("daily_ingest", "2013-01-01"), ("daily_ingest", "2013-01-02"),
    ]  # fmt: skip


def test_new_days_are_requested_once(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    _reference_materialised(instance)
    landing = _landing(tmp_path, date(2013, 1, 2))

    first = _tick(instance, landing, None)
    requests = first.run_requests or []
    assert [(r.job_name, r.partition_key) for r in requests] == [
        ("reference_ingest", None), ("daily_ingest", "2013-01-01"), ("daily_ingest", "2013-01-02"),
    ]  # fmt: skip
    assert {k.to_user_string() for k in requests[1].asset_selection or []} == DAILY

    quiet = _tick(instance, landing, first.cursor)
    assert not quiet.run_requests, "no new files: no runs"

    replay(landing, date(2013, 1, 3), progress=False)
    later = _tick(instance, landing, quiet.cursor)
    assert [r.partition_key for r in later.run_requests or []] == ["2013-01-03"]
    assert json.loads(later.cursor or "{}")["flights"] > json.loads(first.cursor or "{}")["flights"]


def test_a_relanded_file_is_requested_again_for_its_table_only(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing = _landing(tmp_path, date(2013, 1, 2))
    first = _tick(instance, landing, None)
    original_key = (first.run_requests or [])[1].run_key

    path = landing.day_path("weather", date(2013, 1, 1))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a corrected file re-landed
    requests = _tick(instance, landing, first.cursor).run_requests or []
    assert [r.partition_key for r in requests] == ["2013-01-01"]
    assert {k.to_user_string() for k in requests[0].asset_selection or []} == {
        "raw_weather", "weather", "quarantine_weather",
    }  # fmt: skip
    assert requests[0].run_key != original_key


def test_days_ingested_before_the_first_tick_are_not_run_again(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing = _landing(tmp_path, date(2013, 1, 2))
    for table in ("raw_flights", "raw_weather"):  # as `flightpath ingest` leaves them
        instance.report_runless_asset_event(dg.AssetMaterialization(table, partition="2013-01-01"))
    first = _tick(instance, landing, None)
    assert [r.partition_key for r in first.run_requests or [] if r.partition_key] == ["2013-01-02"]
    path = landing.day_path("flights", date(2013, 1, 1))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # re-landed later
    again = _tick(instance, landing, first.cursor)
    assert [r.partition_key for r in again.run_requests or []] == ["2013-01-01"]


# --- a day is complete only when every table it expects is there ---------------------------------

DAY = date(2013, 1, 1)
DAILY_ASSET_DEFS = [
    ingestion.raw_flights, ingestion.raw_weather,
    validation.validate_flights, validation.validate_weather,
]  # fmt: skip


def _copy_landed(source_home: Path, home: Path, table: str, suffix: str = ".parquet") -> Path:
    """One real landed file of DAY copied into `home`'s landing zone, under `suffix`."""
    target = home / "landing" / table / f"{DAY.isoformat()}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    source = source_home / "landing" / table / f"{DAY.isoformat()}.parquet"
    if suffix == ".csv":
        pd.read_parquet(source).to_csv(target, index=False)
    else:
        shutil.copy(source, target)
    return target


def _age(path: Path, hours: float) -> None:
    when = time.time_ns() - int(hours * 3600 * 10**9)
    os.utime(path, ns=(when, when), follow_symlinks=False)


def _daily_requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.partition_key]


def _selected(request: dg.RunRequest) -> set[str]:
    return {key.to_user_string() for key in request.asset_selection or []}


def _run(home: Path, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """What the daemon does with the request: the selected daily assets for its day."""
    return dg.materialize(
        DAILY_ASSET_DEFS,
        selection=request.asset_selection,
        partition_key=request.partition_key,
        resources=make_resources(home),
        raise_on_error=False,
    )


def _error(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success
    messages = []
    for event in result.get_step_failure_events():
        assert event.step_failure_data.error is not None
        messages.append(event.step_failure_data.error.to_string())
    return "\n".join(messages)


def test_a_day_waits_until_every_table_landed(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    _copy_landed(landed_home, fresh_home, "weather")

    waiting = _tick(instance, landing, None)
    assert _daily_requests(waiting) == [], "weather alone is not a day"

    _copy_landed(landed_home, fresh_home, "flights")
    (request,) = _daily_requests(_tick(instance, landing, waiting.cursor))
    assert request.partition_key == DAY.isoformat()
    assert _selected(request) == DAILY
    assert _run(fresh_home, request).success


def test_a_flights_file_in_another_format_fails_the_day_naming_it(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    # The 961-row hole: the weather landed, the flights came as CSV. Requesting the weather alone
    # gave a successful run, a "materialised" day, and no flights in the lake.
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    _copy_landed(landed_home, fresh_home, "weather")
    csv = _copy_landed(landed_home, fresh_home, "flights", suffix=".csv")

    (request,) = _daily_requests(_tick(instance, landing, None))
    assert "raw_flights" in _selected(request)
    error = _error(_run(fresh_home, request))
    assert str(landing.day_path("flights", DAY)) in error and csv.name in error
    assert "only Parquet is accepted" in error


def test_a_table_still_missing_after_the_grace_period_fails_the_day_naming_it(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    weather = _copy_landed(landed_home, fresh_home, "weather")
    first = _tick(instance, landing, None)
    assert _daily_requests(first) == []

    _age(weather, hours=MISSING_TABLE_GRACE.total_seconds() / 3600 + 1)
    (request,) = _daily_requests(_tick(instance, landing, first.cursor))
    assert _selected(request) == DAILY  # the whole day, so the missing file is named
    error = _error(_run(fresh_home, request))
    assert f"{landing.day_path('flights', DAY)}: nothing has landed for flights" in error


def test_half_written_files_are_not_picked_up(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    _copy_landed(landed_home, fresh_home, "weather")
    for temp in (f".{DAY}.parquet.x1y2.tmp", f"{DAY}.parquet.tmp", f"{DAY}.parquet.part"):
        _copy_landed(landed_home, fresh_home, "flights", suffix=".parquet").rename(
            fresh_home / "landing" / "flights" / temp
        )
    assert landing.landed_days("flights") == []
    assert _daily_requests(_tick(instance, landing, None)) == []


def test_a_symlink_is_refused_naming_it(
    landed_home: Path, fresh_home: Path, tmp_path_factory: pytest.TempPathFactory,
    instance: dg.DagsterInstance,
) -> None:  # fmt: skip
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    _copy_landed(landed_home, fresh_home, "weather")
    outside = tmp_path_factory.mktemp("outside") / "secret.parquet"
    shutil.copy(landed_home / "landing" / "flights" / f"{DAY}.parquet", outside)
    link = landing.day_path("flights", DAY)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)

    (request,) = _daily_requests(_tick(instance, landing, None))
    error = _error(_run(fresh_home, request))
    assert f"{link} is a symbolic link" in error
    lake = make_resources(fresh_home)["lake"]
    assert not lake.partition_path("raw_flights", DAY).exists()  # type: ignore[attr-defined]

    outside.unlink()  # a dangling link does not stop the sensor: its day fails naming it
    (dangling,) = _daily_requests(_tick(instance, landing, None))
    assert f"{link} is a symbolic link" in _error(_run(fresh_home, dangling))


def test_a_table_folder_resolving_outside_the_zone_is_refused(
    landed_home: Path, tmp_path: Path
) -> None:
    landing = LandingZone(root=str(tmp_path / "landing"))
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "flights").symlink_to(landed_home / "landing" / "flights")
    with pytest.raises(LandingFileError, match="outside the landing zone"):
        landing.read_day("flights", DAY)


def test_a_redelivered_identical_file_creates_no_duplicates(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    lake = make_resources(fresh_home)["lake"]
    flights = _copy_landed(landed_home, fresh_home, "flights")
    _copy_landed(landed_home, fresh_home, "weather")
    first = _tick(instance, landing, None)
    (request,) = _daily_requests(first)
    assert _run(fresh_home, request).success
    before = {p: p.read_bytes() for p in sorted((fresh_home / "lake").rglob("date=*/*"))}

    shutil.copy(landed_home / "landing" / "flights" / f"{DAY}.parquet", flights)  # again
    _age(flights, hours=-0.01)  # delivered later than the first copy
    (again,) = _daily_requests(_tick(instance, landing, first.cursor))
    assert _run(fresh_home, again).success

    after = {p: p.read_bytes() for p in sorted((fresh_home / "lake").rglob("date=*/*"))}
    assert after == before  # the same files, byte for byte: nothing added, nothing duplicated
    rows = lake.query(f"SELECT count(*) AS n FROM {lake.scan('flights')}")  # type: ignore[attr-defined]
    assert rows["n"][0] == len(pd.read_parquet(flights))


def test_a_non_parquet_payload_named_parquet_fails_the_day_naming_it(
    landed_home: Path, fresh_home: Path, instance: dg.DagsterInstance
) -> None:
    _reference_materialised(instance)
    landing: LandingZone = make_resources(fresh_home)["landing"]  # type: ignore[assignment]
    _copy_landed(landed_home, fresh_home, "weather")
    flights = landing.day_path("flights", DAY)
    flights.parent.mkdir(parents=True, exist_ok=True)
    flights.write_text("year,month,day\n2013,1,1\n")

    (request,) = _daily_requests(_tick(instance, landing, None))
    error = _error(_run(fresh_home, request))
    assert f"{flights}: not a Parquet file" in error
