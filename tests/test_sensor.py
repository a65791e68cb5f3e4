"""The landing sensor asks for one run per newly landed day, and never twice."""

import json
import os
from datetime import date
from pathlib import Path

import dagster as dg

from flightpath.replay import replay
from pipelines.sensors import landing_sensor
from resources.landing import LandingZone
from tests.conftest import make_resources


def _tick(landing: LandingZone, cursor: str | None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"landing": landing}
        )
        result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_new_days_are_requested_once(tmp_path: Path) -> None:
    landing: LandingZone = make_resources(tmp_path)["landing"]  # type: ignore[assignment]
    replay(landing, date(2013, 1, 2), progress=False)

    first = _tick(landing, None)
    requests = first.run_requests or []
    assert [(r.job_name, r.partition_key) for r in requests] == [
        ("reference_ingest", None), ("daily_ingest", "2013-01-01"), ("daily_ingest", "2013-01-02"),
    ]  # fmt: skip
    selected = {k.to_user_string() for k in requests[1].asset_selection or []}
    assert selected == {"raw_flights", "flights", "quarantine_flights", "raw_weather", "weather",
                        "quarantine_weather"}  # fmt: skip

    quiet = _tick(landing, first.cursor)
    assert not quiet.run_requests, "no new files: no runs"

    replay(landing, date(2013, 1, 3), progress=False)
    later = _tick(landing, quiet.cursor)
    assert [r.partition_key for r in later.run_requests or []] == ["2013-01-03"]
    assert json.loads(later.cursor or "{}")["flights"] > json.loads(first.cursor or "{}")["flights"]


def test_a_relanded_file_is_requested_again_for_its_table_only(tmp_path: Path) -> None:
    landing: LandingZone = make_resources(tmp_path)["landing"]  # type: ignore[assignment]
    replay(landing, date(2013, 1, 2), progress=False)
    first = _tick(landing, None)
    original_key = (first.run_requests or [])[1].run_key

    path = landing.day_path("weather", date(2013, 1, 1))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a corrected file re-landed
    again = _tick(landing, first.cursor)
    requests = again.run_requests or []
    assert [r.partition_key for r in requests] == ["2013-01-01"]
    assert {k.to_user_string() for k in requests[0].asset_selection or []} == {
        "raw_weather", "weather", "quarantine_weather",
    }  # fmt: skip
    assert requests[0].run_key != original_key
