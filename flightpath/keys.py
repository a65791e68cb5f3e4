"""The flight key as one string, shared by the lake, the feature store and the service."""

from datetime import datetime

import pandas as pd

FLIGHT_ID_TIME_FORMAT = "%Y%m%dT%H%MZ"


def flight_ids(
    carrier: pd.Series, flight: pd.Series, origin: pd.Series, sched_dep_utc: pd.Series
) -> pd.Series:
    """`UA1545-EWR-20130101T1015Z`: carrier + number, origin, scheduled departure in UTC."""
    when = sched_dep_utc.dt.strftime(FLIGHT_ID_TIME_FORMAT)
    ids = carrier.astype("string") + flight.astype("string") + "-" + origin.astype("string")
    return (ids + "-" + when.astype("string")).astype("string")


def flight_id(carrier: str, flight: int, origin: str, sched_dep_utc: datetime) -> str:
    """One flight's key, the same string `flight_ids` gives (the service keys its log by it)."""
    return f"{carrier}{flight}-{origin}-{sched_dep_utc.strftime(FLIGHT_ID_TIME_FORMAT)}"
