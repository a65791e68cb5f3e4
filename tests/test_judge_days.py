"""Many days judged at once: each file gets exactly the verdict it gets alone.

The row rules run once over all the files (a suite run costs the same for a day or a month), so
what is per file must stay per file: the columns, the row count, the tailnum share, a key
repeated in another day's file, a row that belongs to another day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from assets.quality.verdict import Verdict, judge_flight_days, judge_flights, judge_weather_days
from assets.quality.verdict import judge_weather as judge_weather_day
from assets.reference import airport_timezones, carriers
from flightpath.quality.contracts import SOURCE_FILE, SOURCE_ROW
from tests.conftest import make_resources

DAYS = [date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)]


@pytest.fixture(scope="module")
def landed(landed_home: Path) -> dict[str, dict[date, pd.DataFrame]]:
    landing = make_resources(landed_home)["landing"]
    frames: dict[str, dict[date, pd.DataFrame]] = {"flights": {}, "weather": {}}
    for table, days in frames.items():
        for day in DAYS:
            raw = landing.read_day(table, day)  # type: ignore[attr-defined]
            raw[SOURCE_FILE] = f"{table}/{day}.parquet"
            raw[SOURCE_ROW] = range(len(raw))
            days[day] = raw
    return frames


@pytest.fixture(scope="module")
def references(landed_home: Path) -> tuple[list[str], dict[str, str]]:
    lake = make_resources(landed_home)["lake"]
    return carriers(lake), airport_timezones(lake)  # type: ignore[arg-type]


def _same(together: Mapping[date, Verdict], alone: Callable[[date], Verdict]) -> None:
    for day, verdict in together.items():
        expected = alone(day)
        pd.testing.assert_frame_equal(verdict.valid, expected.valid)
        pd.testing.assert_frame_equal(verdict.quarantine, expected.quarantine)
        assert verdict.outcomes == expected.outcomes, day
        assert verdict.row_count == expected.row_count


def _failed(verdict: Verdict) -> set[str]:
    return {outcome.rule.name for outcome in verdict.outcomes if not outcome.passed}


def test_flight_days_judged_together_get_the_verdicts_they_get_alone(
    landed: dict[str, dict[date, pd.DataFrame]], references: tuple[list[str], dict[str, str]]
) -> None:
    first, second, third = (landed["flights"][day].copy() for day in DAYS)
    # Jan 1's file carries five of Jan 2's flights (same keys as in Jan 2's own file), a cell
    # that is not a number and a row repeated verbatim.
    first = pd.concat([first, second.head(5), first.iloc[[7]]], ignore_index=True)
    first["distance"] = first["distance"].astype(object)
    first.loc[3, "distance"] = "far"
    # Jan 2's file has too many flights without an aircraft, and a column nobody asked for.
    second.loc[second.index[:100], "tailnum"] = None
    second["gate"] = "B12"
    files = dict(zip(DAYS, (first, second, third), strict=True))

    together = judge_flight_days(files, *references)

    _same(together, lambda day: judge_flights(files[day], day, *references))
    # The unreadable distance is also a missing one.
    assert _failed(together[DAYS[0]]) == {
        "on_partition_day", "column_types", "required_values_present", "duplicate_row",
    }  # fmt: skip
    assert _failed(together[DAYS[1]]) == {"tailnum_mostly_present", "no_unexpected_columns"}
    assert _failed(together[DAYS[2]]) == set()
    # Jan 2 keeps its own five flights: the repeat in Jan 1's file is Jan 1's problem only.
    assert len(together[DAYS[1]].valid) == len(second)


def test_a_file_missing_a_column_or_empty_is_judged_alone_and_the_rest_still_pass(
    landed: dict[str, dict[date, pd.DataFrame]], references: tuple[list[str], dict[str, str]]
) -> None:
    files = {
        DAYS[0]: landed["flights"][DAYS[0]].drop(columns=["distance"]),
        DAYS[1]: landed["flights"][DAYS[1]].head(0),
        DAYS[2]: landed["flights"][DAYS[2]],
    }

    together = judge_flight_days(files, *references)

    _same(together, lambda day: judge_flights(files[day], day, *references))
    assert "required_columns" in {o.rule.name for o in together[DAYS[0]].blocking_failures}
    assert "not_empty" in {o.rule.name for o in together[DAYS[1]].blocking_failures}
    assert not together[DAYS[2]].blocking_failures
    assert len(together[DAYS[2]].valid) == len(files[DAYS[2]])


def test_weather_days_judged_together_get_the_verdicts_they_get_alone(
    landed: dict[str, dict[date, pd.DataFrame]],
) -> None:
    first, second, third = (landed["weather"][day].copy() for day in DAYS)
    first = pd.concat([first, second.head(3)], ignore_index=True)  # Jan 2's hours in Jan 1's file
    third.loc[third.index[:2], "humid"] = 140.0
    files = dict(zip(DAYS, (first, second, third), strict=True))

    together = judge_weather_days(files)

    _same(together, lambda day: judge_weather_day(files[day], day))
    assert _failed(together[DAYS[0]]) == {"on_partition_day"}
    assert _failed(together[DAYS[1]]) == set()
    assert _failed(together[DAYS[2]]) == {"readings_in_range"}
    assert len(together[DAYS[2]].quarantine) == 2


def test_a_file_missing_a_column_still_runs_every_rule_its_columns_allow(
    landed: dict[str, dict[date, pd.DataFrame]],
) -> None:
    files = {DAYS[0]: landed["weather"][DAYS[0]].drop(columns=["humid"])}

    (verdict,) = judge_weather_days(files).values()

    outcomes = {outcome.rule.name: outcome for outcome in verdict.outcomes}
    assert outcomes["required_columns"].blocks
    # The key (origin, hour) is all there: its rule runs, as it did before files were batched.
    assert not outcomes["observation_unique"].could_not_run
    assert outcomes["observation_unique"].passed
