"""How old a flight's features are at its departure, and when that is too old, or too new.

A view's values computed after the departure describe the flight's own future (a January
flight scored with February's aircraft state); computed long before it, they describe a world
that has moved on. Either way the answer says so (`stale`), instead of passing as fresh.
"""

from __future__ import annotations

import os
from datetime import datetime

MAX_AGE_VARIABLE = "FLIGHTPATH_MAX_FEATURE_AGE_HOURS"
# Features are refreshed once a day, at the end of the day: a next-day flight is up to ~24 h
# after them; 48 h tolerates one late or missed refresh and flags the rest.
DEFAULT_MAX_AGE_HOURS = 48.0


def max_feature_age_hours() -> float:
    hours = float(os.environ.get(MAX_AGE_VARIABLE, DEFAULT_MAX_AGE_HOURS))
    if not hours > 0:
        raise ValueError(f"{MAX_AGE_VARIABLE} must be a positive number of hours, not {hours}")
    return hours


def ages_at_departure(
    departure: datetime, computed: dict[str, datetime | None]
) -> dict[str, float | None]:
    """Per view, hours from when its values were computed to `departure` (None: no values)."""
    return {
        view: None if at is None else round((departure - at).total_seconds() / 3600, 2)
        for view, at in computed.items()
    }


def stale_views(ages: dict[str, float | None], max_age_hours: float) -> dict[str, str]:
    """The views whose values are from the flight's future or older than the limit, and which."""
    return {
        view: "future" if age < 0 else "too_old"
        for view, age in ages.items()
        if age is not None and not 0 <= age <= max_age_hours
    }
