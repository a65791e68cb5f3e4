"""Request-time transformations: computed the same way for training and for serving."""

import pandas as pd
from feast import Field
from feast.types import Float64, Int64

NEW_YORK = "America/New_York"

SCHEDULE_CONTEXT = [
    Field(name="sched_hour_local", dtype=Int64),
    Field(name="weekday", dtype=Int64),
    Field(name="month", dtype=Int64),
    Field(name="tail_minutes_since_prev_arrival", dtype=Float64),
]


def schedule_context(inputs: pd.DataFrame) -> pd.DataFrame:
    """Calendar of the scheduled departure in New York time, and the aircraft's turnaround."""
    departure = pd.to_datetime(inputs["sched_dep_utc"], utc=True)
    local = departure.dt.tz_convert(NEW_YORK)
    previous = pd.to_datetime(inputs["tail_prev_arrival_utc"], utc=True)
    return pd.DataFrame(
        {
            "sched_hour_local": local.dt.hour.astype("int64"),
            "weekday": (local.dt.dayofweek + 1).astype("int64"),  # ISO: Monday = 1
            "month": local.dt.month.astype("int64"),
            "tail_minutes_since_prev_arrival": (departure - previous).dt.total_seconds() / 60,
        }
    )
