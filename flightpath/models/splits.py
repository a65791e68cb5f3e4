"""Time splits of the training set: train, validate the next stretch, test the one after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from flightpath.feed_calendar import FEED
from flightpath.models.features import LABEL, FeatureSpec


@dataclass(frozen=True)
class Split:
    """Local days (the feed's time zone), inclusive: train..train_end, validation, test."""

    train_start: date
    train_end: date
    valid_end: date
    test_end: date

    def __post_init__(self) -> None:
        if not self.train_start <= self.train_end < self.valid_end < self.test_end:
            raise ValueError(f"windows must follow each other: {self}")

    def windows(self) -> dict[str, tuple[date, date]]:
        day = pd.Timedelta(days=1)
        return {
            "train": (self.train_start, self.train_end),
            "valid": ((self.train_end + day), self.valid_end),
            "test": ((self.valid_end + day), self.test_end),
        }

    def to_metadata(self) -> dict[str, str]:
        return {name: getattr(self, name).isoformat() for name in self.__dataclass_fields__}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Split:
        return cls(**{name: date.fromisoformat(value) for name, value in metadata.items()})

    def describe(self) -> dict[str, str]:
        return {name: f"{start} .. {end}" for name, (start, end) in self.windows().items()}


# A reference shorter than this is too noisy to judge drift against: it keeps its warm-up days.
MIN_REFERENCE_DAYS = 14


def local_days(
    frame: pd.DataFrame, column: str = "sched_dep_utc", zone: str | None = None
) -> pd.Series:
    """The local day (in `zone`, the feed's by default) of each row's instant in `column`; by
    default each flight's scheduled departure."""
    instants = pd.to_datetime(frame[column], utc=True)
    return instants.dt.tz_convert(zone or FEED.timezone).dt.date


def split_frame(
    frame: pd.DataFrame,
    split: Split,
    label: str = LABEL,
    column: str = "sched_dep_utc",
    zone: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Rows of each window (by `local_days`); a window without rows is an error that names it."""
    days = local_days(frame, column, zone)
    parts = {}
    for name, (start, end) in split.windows().items():
        part = frame[(days >= start) & (days <= end)].reset_index(drop=True)
        if part.empty or part[label].nunique() < 2:
            raise ValueError(
                f"the {name} window {start} .. {end} has {len(part)} labelled rows and needs "
                "both outcomes: build the training set over it first"
            )
        parts[name] = part
    return parts


def settled_window(split: Split, feed_start: date, warm_up_days: int) -> tuple[date, date]:
    """The training window less the feed's first `warm_up_days`, when enough days remain.

    While a feed's windowed features fill up (a 30-day rate on day 3), they look like no later
    week: a drift reference that includes those days would flag drift forever.
    """
    first, last = split.windows()["train"]
    settled = feed_start + timedelta(days=warm_up_days)
    if (last - settled).days + 1 >= MIN_REFERENCE_DAYS:
        first = max(first, settled)
    return first, last


def xy(spec: FeatureSpec, frame: pd.DataFrame, label: str = LABEL) -> tuple[np.ndarray, np.ndarray]:
    return spec.matrix(frame), frame[label].to_numpy(np.float32)
