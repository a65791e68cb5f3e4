"""The flight key as one string, shared by the lake, the feature store and the service."""

import pandas as pd

FLIGHT_ID_TIME_FORMAT = "%Y%m%dT%H%MZ"


def flight_ids(
    carrier: pd.Series, flight: pd.Series, origin: pd.Series, sched_dep_utc: pd.Series
) -> pd.Series:
    """`UA1545-EWR-20130101T1015Z`: carrier + number, origin, scheduled departure in UTC."""
    when = sched_dep_utc.dt.strftime(FLIGHT_ID_TIME_FORMAT)
    ids = carrier.astype("string") + flight.astype("string") + "-" + origin.astype("string")
    return (ids + "-" + when.astype("string")).astype("string")
