"""Request-time transformations: one rule per feature, used by training and by serving alike.

`schedule_context_of` is the rule, for one flight (the service calls it per request: ~8 µs,
where a one-row DataFrame costs ~1.6 ms); `schedule_context` applies the same function to a
DataFrame for Feast's on-demand views, so training sets get exactly the same values.
"""

import math
from datetime import datetime

import pandas as pd

from flightpath.feed_calendar import FEED

_ZONE = FEED.zone

# Each column and its pandas type; the Feast fields are made from it (feature_repo/definitions.py).
# No Feast here: the service imports this module, and `bentoml build` imports the service.
SCHEDULE_CONTEXT = {
    "sched_hour_local": "int64",
    "weekday": "int64",
    "month": "int64",
    "tail_minutes_since_prev_arrival": "float64",
}


def schedule_context_of(
    sched_dep_utc: datetime, tail_prev_arrival_utc: datetime | None
) -> dict[str, float]:
    """Calendar of the scheduled departure (in the feed's time zone), and the aircraft's
    turnaround."""
    local = sched_dep_utc.astimezone(_ZONE)
    turnaround = (
        (sched_dep_utc - tail_prev_arrival_utc).total_seconds() / 60
        if tail_prev_arrival_utc is not None
        else math.nan
    )
    return {
        "sched_hour_local": local.hour,
        "weekday": local.isoweekday(),  # Monday = 1
        "month": local.month,
        "tail_minutes_since_prev_arrival": turnaround,
    }


def schedule_context(inputs: pd.DataFrame) -> pd.DataFrame:
    """`schedule_context_of` for every row (Feast's on-demand views hand over a DataFrame)."""
    departures = pd.to_datetime(inputs["sched_dep_utc"], utc=True)
    previous = pd.to_datetime(inputs["tail_prev_arrival_utc"], utc=True)
    rows = [
        schedule_context_of(dep.to_pydatetime(), None if pd.isna(prev) else prev.to_pydatetime())
        for dep, prev in zip(departures, previous, strict=True)
    ]
    frame = pd.DataFrame(rows, index=inputs.index, columns=list(SCHEDULE_CONTEXT))
    return frame.astype(SCHEDULE_CONTEXT)
