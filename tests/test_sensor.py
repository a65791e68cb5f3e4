"""The landing sensor asks for one run per newly landed day, and never twice."""

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from flightpath.replay import replay
from pipelines.sensors import REFERENCE_KEYS, landing_sensor
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
