"""Time splits of the training set: train, validate the next stretch, test the one after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


def local_days(frame: pd.DataFrame) -> pd.Series:
    """The local day (the feed's time zone) of each flight's scheduled departure."""
    return pd.to_datetime(frame["sched_dep_utc"], utc=True).dt.tz_convert(FEED.timezone).dt.date


def split_frame(frame: pd.DataFrame, split: Split) -> dict[str, pd.DataFrame]:
    """Rows of each window; a window without rows is an error that names it."""
    days = local_days(frame)
    parts = {}
    for name, (start, end) in split.windows().items():
        part = frame[(days >= start) & (days <= end)].reset_index(drop=True)
        if part.empty or part[LABEL].nunique() < 2:
            raise ValueError(
                f"the {name} window {start} .. {end} has {len(part)} labelled rows and needs "
                "both outcomes: build the training set over it first"
            )
        parts[name] = part
    return parts


def xy(spec: FeatureSpec, frame: pd.DataFrame, label: str = LABEL) -> tuple[np.ndarray, np.ndarray]:
    return spec.matrix(frame), frame[label].to_numpy(np.float32)
