"""The serving features kept up to date event by event, as of any instant `now`.

The same definitions as assets/features/flight_features.sql, evaluated incrementally: windows
hold events with `now - span <= at < now`; the aircraft's previous landing counts for 30 days;
weather is the latest observation already available. The skew check proves the two agree.
"""

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from flightpath.models.features import LATE_MINUTES
from flightpath.streaming.events import ARRIVAL, DEPARTURE, WEATHER

MINUTE_US = 60 * 1_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
WEATHER_FIELDS = ("temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib")


@dataclass
class SlidingWindow:
    """Count and sum of values with `now - span <= at < now`, for values added in time order."""

    span_us: int
    items: deque[tuple[int, float]] = field(default_factory=deque)
    total: float = 0.0

    def add(self, at_us: int, value: float) -> None:
        self.items.append((at_us, value))
        self.total += value

    def expire(self, now_us: int) -> bool:
        expired = False
        while self.items and self.items[0][0] < now_us - self.span_us:
            self.total -= self.items.popleft()[1]
            expired = True
        return expired

    @property
    def count(self) -> int:
        return len(self.items)

    def mean(self) -> float | None:
        return self.total / self.count if self.items else None


def _windows(span_us: int) -> defaultdict[str, SlidingWindow]:
    return defaultdict(lambda: SlidingWindow(span_us))


class OnlineAggregates:
    """State per origin, carrier, route and aircraft; `flush(now)` gives the rows that changed."""

    def __init__(self, planes: pd.DataFrame) -> None:
        self.departures = {1: _windows(HOUR_US), 3: _windows(3 * HOUR_US)}
        self.carrier_late = {7: _windows(7 * DAY_US), 30: _windows(30 * DAY_US)}
        self.route_late = {7: _windows(7 * DAY_US), 30: _windows(30 * DAY_US)}
        self.last_landing: dict[str, tuple[int, float]] = {}
        self.weather: dict[str, tuple[float, ...]] = {}
        self.planes = {
            row.tailnum: (row.year, row.seats, row.engines) for row in planes.itertuples()
        }
        self.dirty: dict[str, set[str]] = defaultdict(set)

    def apply(self, kind: int, at_us: int, origin: str, carrier: str | None, route: str | None,
              tailnum: str | None, delay: float | None,
              weather: tuple[float, ...] = ()) -> None:  # fmt: skip
        """Take one event into the state; entities whose features it touches become dirty."""
        if kind == DEPARTURE:
            assert delay is not None
            for window in self.departures.values():
                window[origin].add(at_us, delay)
            self.dirty["origin_congestion"].add(origin)
        elif kind == ARRIVAL:
            assert delay is not None and carrier is not None and route is not None
            late = 1.0 if delay > LATE_MINUTES else 0.0
            for window in self.carrier_late.values():
                window[carrier].add(at_us, late)
            for window in self.route_late.values():
                window[route].add(at_us, late)
            self.dirty["carrier_history"].add(carrier)
            self.dirty["route_history"].add(route)
            if tailnum is not None:
                self.last_landing[tailnum] = (at_us, delay)
        elif kind == WEATHER:
            self.weather[origin] = weather
            self.dirty["origin_weather"].add(origin)
        if kind in (DEPARTURE, ARRIVAL):
            # A flown aircraft, carrier or route has a row online even before its first landing.
            if tailnum is not None:
                self.dirty["aircraft"].add(tailnum)
            if carrier is not None and route is not None:
                self.dirty["carrier_history"].add(carrier)
                self.dirty["route_history"].add(route)

    def flush(self, now_us: int) -> dict[str, pd.DataFrame]:
        """Rows, as of `now`, of every entity whose features changed since the last flush."""
        self._expire(now_us)
        rows = self._rows(now_us, self.dirty)
        self.dirty = defaultdict(set)
        return rows

    def snapshot(self, now_us: int) -> dict[str, pd.DataFrame]:
        """Rows, as of `now`, of every entity in the state."""
        self._expire(now_us)
        everything = {
            "origin_congestion": set(self.departures[3]),
            "carrier_history": set(self.carrier_late[30]),
            "route_history": set(self.route_late[30]),
            "aircraft": set(self.last_landing) | self.dirty["aircraft"],
            "origin_weather": set(self.weather),
        }
        self.dirty = defaultdict(set)
        return self._rows(now_us, everything)

    def _expire(self, now_us: int) -> None:
        for view, families in (
            ("origin_congestion", self.departures),
            ("carrier_history", self.carrier_late),
            ("route_history", self.route_late),
        ):
            for windows in families.values():
                for key, window in windows.items():
                    if window.expire(now_us):
                        self.dirty[view].add(key)
        for tailnum, (landed_us, _) in list(self.last_landing.items()):
            if landed_us < now_us - 30 * DAY_US:
                del self.last_landing[tailnum]
                self.dirty["aircraft"].add(tailnum)

    def _rows(self, now_us: int, keys: dict[str, set[str]]) -> dict[str, pd.DataFrame]:
        as_of = pd.Timestamp(now_us, unit="us", tz="UTC")
        builders = {
            "origin_congestion": ("origin", self._congestion),
            "carrier_history": ("carrier", self._carrier),
            "route_history": ("route", self._route),
            "aircraft": ("tailnum", self._aircraft),
            "origin_weather": ("origin", self._weather),
        }
        out = {}
        for view, (key_column, build) in builders.items():
            records = [{key_column: key, **build(key)} for key in sorted(keys.get(view, ()))]
            if records:
                out[view] = pd.DataFrame(records).assign(as_of=as_of)
        return out

    def _congestion(self, origin: str) -> dict[str, object]:
        one, three = self.departures[1][origin], self.departures[3][origin]
        return {
            "origin_departures_1h": one.count,
            "origin_dep_delay_mean_1h": one.mean(),
            "origin_departures_3h": three.count,
            "origin_dep_delay_mean_3h": three.mean(),
        }

    def _carrier(self, carrier: str) -> dict[str, object]:
        week, month = self.carrier_late[7][carrier], self.carrier_late[30][carrier]
        return {
            "carrier_arrivals_7d": week.count,
            "carrier_late_rate_7d": week.mean(),
            "carrier_late_rate_30d": month.mean(),
        }

    def _route(self, route: str) -> dict[str, object]:
        week, month = self.route_late[7][route], self.route_late[30][route]
        return {
            "route_arrivals_30d": month.count,
            "route_late_rate_7d": week.mean(),
            "route_late_rate_30d": month.mean(),
        }

    def _aircraft(self, tailnum: str) -> dict[str, object]:
        landed = self.last_landing.get(tailnum)
        year, seats, engines = self.planes.get(tailnum, (None, None, None))
        return {
            "tail_prev_arr_delay": landed[1] if landed else None,
            "tail_prev_arrival_utc": pd.Timestamp(landed[0], unit="us", tz="UTC")
            if landed
            else None,
            "plane_year": year,
            "plane_seats": seats,
            "plane_engines": engines,
        }

    def _weather(self, origin: str) -> dict[str, object]:
        return dict(zip(WEATHER_FIELDS, self.weather[origin], strict=True))


def apply_all(aggregates: OnlineAggregates, events: pd.DataFrame) -> None:
    """Take a frame of events (see events.py) into the state, in order."""
    for event in event_tuples(events):
        aggregates.apply(*event)


def event_tuples(events: pd.DataFrame) -> Iterable[tuple]:
    at_us = events["occurred_at"].astype("datetime64[us, UTC]").astype("int64")
    weather = events[list(WEATHER_FIELDS)].itertuples(index=False, name=None)
    columns = ("kind", "origin", "carrier", "route", "tailnum", "delay")
    plain = events[list(columns)].astype(object).where(events[list(columns)].notna(), None)
    for (kind, origin, carrier, route, tailnum, delay), at, readings in zip(
        plain.itertuples(index=False, name=None), at_us, weather, strict=True
    ):
        yield int(kind), int(at), origin, carrier, route, tailnum, delay, tuple(readings)
