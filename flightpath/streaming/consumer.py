"""Replaying the event feed on an accelerated clock and pushing fresh rows through Feast."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flightpath.lake import LakeFiles
from flightpath.streaming.aggregates import OnlineAggregates, apply_all, event_tuples
from flightpath.streaming.events import events_between
from flightpath.streaming.push import OnlinePush

if TYPE_CHECKING:
    from feast import FeatureStore

HISTORY = timedelta(days=32)  # what the state needs before the first streamed event


@dataclass
class StreamStats:
    events: int = 0
    pushes: int = 0
    rows_pushed: int = 0
    wall_seconds: float = 0.0
    freshness_seconds: list[float] = field(default_factory=list)  # event emitted -> readable

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_seconds if self.wall_seconds else 0.0

    def freshness(self, quantile: float) -> float:
        return (
            float(np.quantile(self.freshness_seconds, quantile)) if self.freshness_seconds else 0.0
        )


def seeded_state(lake: LakeFiles, start: datetime) -> OnlineAggregates:
    """The state as of `start`, built from the events of the 32 days before it."""
    aggregates = OnlineAggregates(lake.read_table("raw_planes"))
    apply_all(aggregates, events_between(lake, start - HISTORY, start))
    return aggregates


def stream(
    lake: LakeFiles,
    store: "FeatureStore",
    start: datetime,
    end: datetime,
    speed: float | None = None,
    flush_every: float = 0.1,
    push: Callable[[dict[str, pd.DataFrame]], int] | None = None,
) -> StreamStats:
    """Emit the events of `[start, end)` in order and keep the online store current.

    `speed` is replay seconds per wall second (None: as fast as possible). Changed rows are
    pushed at most every `flush_every` wall seconds, as of the event time reached, and once more
    as of `end`. The online store first receives the whole state as of `start`. `push` writes a
    push's rows per view (default: `OnlinePush` of `store`; the benchmark's naive way differs).
    """
    aggregates = seeded_state(lake, start)
    stats = StreamStats()
    push_rows = push or OnlinePush(store)
    stats.rows_pushed += push_rows(aggregates.snapshot(_us(start)))
    events = events_between(lake, start, end)
    at_us = events["occurred_at"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    start_us, began = _us(start), time.perf_counter()
    last_push = began
    pending: list[float] = []  # emission times of events applied since the last push
    for at, event in zip(at_us, event_tuples(events), strict=True):
        emitted = began + (at - start_us) / 1e6 / speed if speed else time.perf_counter()
        if speed and (wait := emitted - time.perf_counter()) > 0:
            time.sleep(wait)
        if time.perf_counter() - last_push >= flush_every:
            stats.rows_pushed += push_rows(aggregates.flush(int(at)))
            last_push = time.perf_counter()
            stats.freshness_seconds.extend(last_push - e for e in pending)
            stats.pushes, pending = stats.pushes + 1, []
        aggregates.apply(*event)
        pending.append(emitted)
        stats.events += 1
    stats.rows_pushed += push_rows(aggregates.flush(_us(end)))
    done = time.perf_counter()
    stats.freshness_seconds.extend(done - e for e in pending)
    stats.pushes += 1
    stats.wall_seconds = done - began
    return stats


def _us(instant: datetime) -> int:
    return int(pd.Timestamp(instant).tz_convert("UTC").value // 1000)


class LiveFeed:
    """The online store moved forward through a stretch of the feed on demand.

    For callers that interleave the feed with requests (the loop answers each hour's departures
    once the events before that hour are in the store), rather than replay on a clock.
    """

    def __init__(
        self, lake: LakeFiles, store: "FeatureStore", start: datetime, end: datetime
    ) -> None:
        self.push = OnlinePush(store)
        self.aggregates = seeded_state(lake, start)
        events = events_between(lake, start, end)
        self._at_us = events["occurred_at"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
        self._events = list(event_tuples(events))
        self._next = 0
        self.push(self.aggregates.snapshot(_us(start)))

    def advance_to(self, instant: datetime) -> int:
        """Apply every event before `instant` and push what changed, as of it; how many."""
        limit, first = _us(instant), self._next
        while self._next < len(self._events) and self._at_us[self._next] < limit:
            self.aggregates.apply(*self._events[self._next])
            self._next += 1
        self.push(self.aggregates.flush(limit))
        return self._next - first
