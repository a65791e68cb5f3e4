"""The serving views: the entity key each is read by, and its columns with their types.

The one list behind the Feast views (`definitions`), the online snapshots written per day, the
service's reads and the model's feature groups. Plain Python types, not Feast's: the model
library reads it without importing Feast (seconds per process).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

# The delay model's Feast feature services: its features point-in-time for training (and batch
# scoring), and as the service reads them.
TRAINING_SERVICE, SERVING_SERVICE = "delay_model_training", "delay_model_serving"
HISTORY_DAYS = 31  # the features' longest window (30 days) plus the day it may straddle


class EntityView(NamedTuple):
    key: str  # the join key, and the request field it is read by
    columns: dict[str, type]  # in the order the view (and the model) lists them


WEATHER = ("temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib")

ENTITY_VIEWS = {
    "origin_congestion": EntityView("origin", {
        "origin_departures_1h": int, "origin_dep_delay_mean_1h": float,
        "origin_departures_3h": int, "origin_dep_delay_mean_3h": float,
    }),
    "carrier_history": EntityView("carrier", {
        "carrier_arrivals_7d": int, "carrier_late_rate_7d": float, "carrier_late_rate_30d": float,
    }),
    "route_history": EntityView("route", {
        "route_arrivals_30d": int, "route_late_rate_7d": float, "route_late_rate_30d": float,
    }),
    "aircraft": EntityView("tailnum", {
        "tail_prev_arr_delay": float, "tail_prev_arrival_utc": datetime, "plane_year": float,
        "plane_seats": int, "plane_engines": int,
    }),
    "origin_weather": EntityView("origin", dict.fromkeys(WEATHER, float)),
}  # fmt: skip


def push_source(view: str) -> str:
    """The Feast push source a serving view's streamed rows arrive through."""
    return f"{view}_push"
