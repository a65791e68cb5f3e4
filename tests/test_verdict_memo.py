"""A landed day's rules run once per process, and only identical input shares a verdict."""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.quality.verdict import Verdict, judge_weather
from assets.quality.verdict_memo import forget_verdicts, remembered_verdict
from assets.reference import airport_timezones, carriers
from flightpath.landing import LandingFileError
from flightpath.replay import replay
from resources.landing import LandingZone

DAY = date(2013, 1, 2)


@pytest.fixture
def weather(landed_home: Path) -> pd.DataFrame:
    forget_verdicts()
    return LandingZone(root=str(landed_home / "landing")).read_day("weather", DAY)


def _counting(calls: list[pd.DataFrame], day: date = DAY) -> Callable[[pd.DataFrame], Verdict]:
    def judge(rows: pd.DataFrame) -> Verdict:
        calls.append(rows)
        return judge_weather(rows, day)

    return judge


def test_the_same_rows_are_judged_once(weather: pd.DataFrame) -> None:
    calls: list[pd.DataFrame] = []
    judge = _counting(calls)
    first = remembered_verdict("weather", weather, DAY, (), lambda: judge(weather))
    # As the validation step sees them: the same rows, read back into a new frame.
    same = weather.copy()
    again = remembered_verdict("weather", same, DAY, (), lambda: judge(same))
    assert again is first
    assert len(calls) == 1


def _wind_storm(frame: pd.DataFrame) -> pd.DataFrame:
    changed = frame.copy()
    changed.loc[3, "wind_speed"] = 1048.36  # an out-of-range value the rules quarantine
    return changed


def _wind_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(wind_speed=frame["wind_speed"].astype(str))


def _one_row_fewer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[1:]


def _reordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[::-1]


@pytest.mark.parametrize(
    "change", [_wind_storm, _wind_as_text, _one_row_fewer, _reordered], ids=lambda f: f.__name__
)
def test_changed_rows_are_judged_afresh(
    weather: pd.DataFrame, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    calls: list[pd.DataFrame] = []
    judge = _counting(calls)
    remembered_verdict("weather", weather, DAY, (), lambda: judge(weather))
    changed = change(weather)

    verdict = remembered_verdict("weather", changed, DAY, (), lambda: judge(changed))

    assert len(calls) == 2
    expected = judge_weather(changed, DAY)
    pd.testing.assert_frame_equal(verdict.valid, expected.valid)
    pd.testing.assert_frame_equal(verdict.quarantine, expected.quarantine)


def test_a_wind_storm_is_not_answered_with_the_calm_days_verdict(weather: pd.DataFrame) -> None:
    calm = remembered_verdict("weather", weather, DAY, (), lambda: judge_weather(weather, DAY))
    stormy = _wind_storm(weather)
    verdict = remembered_verdict("weather", stormy, DAY, (), lambda: judge_weather(stormy, DAY))
    assert len(verdict.quarantine) == len(calm.quarantine) + 1


def test_another_day_or_other_references_are_judged_afresh(weather: pd.DataFrame) -> None:
    calls: list[pd.DataFrame] = []
    judge = _counting(calls)
    remembered_verdict("weather", weather, DAY, (), lambda: judge(weather))
    remembered_verdict("weather", weather, date(2013, 1, 3), (), lambda: judge(weather))
    remembered_verdict("weather", weather, DAY, ("AA",), lambda: judge(weather))
    remembered_verdict("flights", weather, DAY, (), lambda: judge(weather))
    assert len(calls) == 4


def test_rows_changed_after_judging_do_not_change_the_remembered_input(
    weather: pd.DataFrame,
) -> None:
    calls: list[pd.DataFrame] = []
    judge = _counting(calls)
    remembered_verdict("weather", weather, DAY, (), lambda: judge(weather))
    weather.loc[0, "temp"] = np.nan  # the caller's frame, changed in place afterwards
    remembered_verdict("weather", weather, DAY, (), lambda: judge(weather))
    assert len(calls) == 2


def test_days_judged_ahead_are_found_by_their_runs_and_an_unreadable_file_is_left_to_its_run(
    fresh_home: Path, landed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assets import ingestion
    from tests.conftest import make_resources

    forget_verdicts()
    resources = make_resources(fresh_home)
    landing, lake = resources["landing"], resources["lake"]
    days = [date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)]
    replay(landing, days[-1], progress=False)  # type: ignore[arg-type]
    landing.day_path("weather", days[2]).write_bytes(b"not parquet")  # type: ignore[attr-defined]
    ahead = {day: ingestion.judge_flights(ingestion.landed_rows(landing, "flights", day), day,
                                          carriers(lake), airport_timezones(lake))
             for day in days}  # fmt: skip

    ingestion.judge_landed_days(landing, lake, days)  # type: ignore[arg-type]

    def not_again(*args: object) -> Verdict:
        raise AssertionError("a day judged ahead was judged again")

    monkeypatch.setattr(ingestion, "judge_flights", not_again)
    monkeypatch.setattr(ingestion, "judge_weather", not_again)
    for day in days:
        raw = ingestion.landed_rows(landing, "flights", day)  # type: ignore[arg-type]
        found = ingestion.judge_landed_flights(raw, day, lake)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(found.valid, ahead[day].valid)
        assert found.outcomes == ahead[day].outcomes
    weather = ingestion.landed_rows(landing, "weather", days[1])  # type: ignore[arg-type]
    assert ingestion.judge_landed_weather(weather, days[1], lake).row_count == len(weather)  # type: ignore[arg-type]
    # The unreadable file was not judged ahead: its run reads it and fails naming it.
    with pytest.raises(LandingFileError, match=str(days[2])):
        ingestion.landed_rows(landing, "weather", days[2])  # type: ignore[arg-type]
