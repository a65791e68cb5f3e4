"""The hand-over between the ingesting child and the features parent (apps/ingest_features.py)."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from apps.ingest import RunSummary
from apps.ingest_features import HandedDays, IngestionStopped

SPAWN = multiprocessing.get_context("spawn")


def _hands_over_two_days(handed: multiprocessing.Queue) -> None:
    handed.put("2013-01-01")
    handed.put("2013-01-02")
    handed.put(RunSummary(succeeded=["2013-01-01", "2013-01-02"]))


def _dies_after_one_day(handed: multiprocessing.Queue) -> None:
    handed.put("2013-01-01")
    handed.close()
    handed.join_thread()  # the day is in the pipe before the process dies
    sys.exit(3)


def test_the_days_come_in_order_and_the_summary_ends_them() -> None:
    handed = SPAWN.Queue()
    child = SPAWN.Process(target=_hands_over_two_days, args=(handed,))
    child.start()
    days = HandedDays(handed, child)
    assert list(days) == ["2013-01-01", "2013-01-02"]
    assert days.summary().succeeded == ["2013-01-01", "2013-01-02"]
    child.join(timeout=30)


def test_a_child_that_dies_without_its_summary_stops_the_parent_naming_its_exit_code() -> None:
    handed = SPAWN.Queue()
    child = SPAWN.Process(target=_dies_after_one_day, args=(handed,))
    child.start()
    seen = []
    with pytest.raises(IngestionStopped, match="exit code 3"):
        for day in HandedDays(handed, child):
            seen.append(day)
    assert seen == ["2013-01-01"]  # what it handed over before dying was built
