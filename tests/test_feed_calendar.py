"""The feed's calendar and airports come from configuration, and everything dated follows them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from flightpath.feed_calendar import FeedCalendar, feed_calendar

ROOT = Path(__file__).resolve().parent.parent

# In a fresh interpreter (the calendar is read once, at import): every consumer's view of it.
_PROBE = """
import json
from datetime import date

from assets.features.feature_store import TrainingWindow
from assets.delay_models import ModelWindow
from assets.monitoring.drift_reference import reference_window
from assets.partitions import daily_partitions
from assets.quality.suites import ORIGIN_KNOWN
from bentos.schema import YEAR_BEFORE_THE_FEED
from apps.cli import build_parser
from flightpath.models.splits import Split
from flightpath.replay import replay_days
from pipelines.automation import weekly_retrain
from pipelines.jobs import retrain_config

keys = daily_partitions.get_partition_keys()
window = ModelWindow()
story = build_parser().parse_args(["story"])
train = build_parser().parse_args(["train"])
days = list(replay_days(date(2099, 1, 1)))
print(json.dumps({
    "partitions": [keys[0], keys[-1], len(keys)],
    "replay": [str(days[0]), str(days[-1])],
    "model_window": [window.train_start, window.train_end, window.valid_end, window.test_end],
    "train_command": [str(train.train_start), str(train.train_end), str(train.valid_end),
                      str(train.test_end)],
    "training_set": [TrainingWindow().start, TrainingWindow().end],
    "story": [str(story.start), str(story.through)],
    "retrain_from": retrain_config(date(2024, 9, 30))["ops"]["training_set"]["config"]["start"],
    "drift_reference": [str(d) for d in reference_window(window.split())],
    "schedule_zone": weekly_retrain.execution_timezone,
    "origin_rule": ORIGIN_KNOWN.description,
    "earliest_request": YEAR_BEFORE_THE_FEED.isoformat(),
}))
"""


def _consumers(**environ: str) -> dict:
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    probe = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


def test_unset_it_is_nycflights13() -> None:
    feed = feed_calendar({})
    assert feed == FeedCalendar(date(2013, 1, 1), date(2013, 12, 31), "America/New_York",
                                ("EWR", "JFK", "LGA"))  # fmt: skip
    assert {name: str(day) for name, day in feed.training_windows().items()} == {
        "train_start": "2013-01-01", "train_end": "2013-08-31",
        "valid_end": "2013-09-30", "test_end": "2013-12-31",
    }  # fmt: skip


def test_a_configured_feed_moves_everything_dated() -> None:
    """A leap year, in London, from two airports (the windows: 8/12 and 9/12 of 366 days)."""
    seen = _consumers(FLIGHTPATH_FEED_START="2024-01-01", FLIGHTPATH_FEED_END="2024-12-31",
                      FLIGHTPATH_FEED_TIMEZONE="Europe/London",
                      FLIGHTPATH_FEED_ORIGINS="LHR,LGW")  # fmt: skip
    windows = ["2024-01-01", "2024-08-31", "2024-09-30", "2024-12-31"]
    assert seen == {
        "partitions": ["2024-01-01", "2024-12-31", 366],
        "replay": ["2024-01-01", "2024-12-31"],
        "model_window": windows,
        "train_command": windows,
        "training_set": ["2024-01-01", "2024-12-31"],
        "story": ["2024-01-31", "2024-03-30"],
        "retrain_from": "2024-01-01",
        "drift_reference": ["2024-02-01", "2024-08-31"],  # after the 31 warm-up days
        "schedule_zone": "Europe/London",
        "origin_rule": "origin is one of the feed's LHR, LGW",
        "earliest_request": "2022-12-31T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FLIGHTPATH_FEED_START", "2024-13-01", "FLIGHTPATH_FEED_START='2024-13-01'"),
        ("FLIGHTPATH_FEED_END", "2012-12-31", "ends (2012-12-31) before it starts"),
        ("FLIGHTPATH_FEED_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("FLIGHTPATH_FEED_ORIGINS", "EWR,jfk", "three-letter airport codes"),
    ],
)
def test_a_malformed_setting_is_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        feed_calendar({variable: value})
