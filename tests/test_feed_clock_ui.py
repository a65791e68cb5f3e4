"""The feed clock in the Dagster UI: `dagster dev` with a fast clock lands days and asks for a
retraining, which the UI shows with its reason.

The home has the feed landed through a Sunday and features built through the Saturday, so the
clock's first tick lands a Monday: the weekly retraining's feed day. Only the feed clock runs
(the other sensors and the schedules are stopped): what appears is its doing. Screenshots go to
`$FLIGHTPATH_TEST_ARTIFACTS/feed_clock` (default `tests/artifacts/feed_clock`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Page, expect

from flightpath.feed_clock import FEED_SECONDS_VARIABLE
from flightpath.replay import replay
from flightpath.run_tags import REASON, THROUGH, TRIGGER
from resources.landing import LandingZone
from tests.dagster_ui import (
    artifacts_folder,
    chromium_page,
    dagster_dev,
    dagster_instance_home,
    pause_automation,
    require_chromium,
)

SUNDAY = date(2013, 1, 27)  # landed already
MONDAY = date(2013, 1, 28)  # the clock's first feed day
FEATURES_THROUGH = date(2013, 1, 26)
FEED_SECONDS = 5
UI_TIMEOUT_MS = 60_000  # a page of a UI whose machine is busy with the runs it shows
RETRAINING_TIMEOUT_S = 120  # the daemon's first sensor tick after start-up, with room to spare


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    require_chromium()


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    return artifacts_folder(request, "feed_clock", "Feed clock")


@pytest.fixture(scope="module")
def feed_home(landed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The feed landed through SUNDAY; features built through the Saturday on the instance."""
    home = tmp_path_factory.mktemp("feed-clock-ui")
    shutil.copytree(landed_home, home, dirs_exist_ok=True)
    replay(LandingZone(root=str(home / "landing")), SUNDAY, progress=False)
    instance_home = dagster_instance_home(home)
    with dg.DagsterInstance.from_config(str(instance_home)) as instance:
        # What a retraining trains through; requesting one needs no more than this.
        instance.report_runless_asset_event(
            dg.AssetMaterialization("online_features", partition=FEATURES_THROUGH.isoformat())
        )
        pause_automation(instance, keep={"feed_clock"})
    return home, instance_home


@pytest.fixture(scope="module")
def ui(feed_home: tuple[Path, Path], artifacts: Path) -> Iterator[str]:
    home, instance_home = feed_home
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FEED_SECONDS_VARIABLE, str(FEED_SECONDS))  # as `flightpath dev` sets it
        with dagster_dev(home, instance_home, artifacts / "dagster-dev.log") as url:
            yield url


@pytest.fixture(scope="module")
def page(ui: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


def _retraining(instance_home: Path) -> dg.DagsterRun:
    """The retraining the feed clock asked for, once the daemon launched it."""
    deadline = time.monotonic() + RETRAINING_TIMEOUT_S
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(str(instance_home)) as instance:
            runs = instance.get_runs(dg.RunsFilter(job_name="retrain"))
        if runs:
            [run] = runs
            return run
        time.sleep(2)
    pytest.fail(f"no retrain run within {RETRAINING_TIMEOUT_S} s of the UI being up")


def test_the_feed_clock_lands_days_and_asks_for_a_retraining_with_its_reason(
    page: Page, ui: str, feed_home: tuple[Path, Path], artifacts: Path
) -> None:
    home, instance_home = feed_home
    run = _retraining(instance_home)
    # The truth: the clock landed Monday and asked on the weekly schedule's behalf, with why.
    landing = LandingZone(root=str(home / "landing"))
    assert landing.day_path("flights", MONDAY).exists()
    reason = f"weekly schedule (feed clock, Monday {MONDAY})"
    assert run.tags["dagster/sensor_name"] == "feed_clock"
    assert run.tags[REASON] == reason
    assert run.tags[TRIGGER] == "weekly_retrain"
    assert run.tags[THROUGH] == FEATURES_THROUGH.isoformat()

    # The run in the UI, launched by the feed clock, with its reason among its tags.
    page.goto(f"{ui}/runs/{run.run_id}")
    page.get_by_role("button", name="View tags and config").click()
    tags = page.get_by_role("dialog").filter(has_text="Run configuration")
    expect(tags).to_contain_text(f"{REASON}: {reason}", timeout=UI_TIMEOUT_MS)
    expect(tags).to_contain_text("feed_clock")
    page.screenshot(path=artifacts / "01-retrain-run-tags.png")
    tags.get_by_role("button", name="OK").click()

    # The feed clock's ticks: the cursor is the day each landed, the log says what it landed
    # and what it asked for.
    page.goto(f"{ui}/locations/pipelines.definitions/sensors/feed_clock")
    # A day's row may show twice while the list refreshes: any one of them will do.
    rows = page.get_by_role("row")
    monday = rows.filter(has_text=MONDAY.isoformat()).filter(has_text="1 run requested").first
    expect(monday).to_be_visible(timeout=UI_TIMEOUT_MS)
    later = rows.filter(has_text="2013-01-29").filter(has_text="0 runs requested").first
    expect(later).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=artifacts / "02-feed-clock-ticks.png")
    monday.get_by_role("button", name="View logs").click()
    logs = page.get_by_role("dialog").filter(has_text="Logs for feed_clock")
    expect(logs).to_contain_text(
        f"feed day {MONDAY}: landed flights/{MONDAY}", timeout=UI_TIMEOUT_MS
    )
    expect(logs).to_contain_text("weekly_retrain: 1 run(s) requested")
    page.screenshot(path=artifacts / "03-feed-clock-monday-log.png")
