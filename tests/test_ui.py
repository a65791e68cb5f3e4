"""The Dagster UI in a real browser: `dagster dev` (webserver + daemon) over a small data home.

What the UI shows is compared with the truth: the Definitions for what must be drawn, the
instance for what ran and what it produced. Screenshots of each step go to the artifacts folder
(`$FLIGHTPATH_TEST_ARTIFACTS/ui`, default `tests/artifacts/ui`), with the server's log.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Page, expect

from assets import delay_models
from assets.features import feature_store
from assets.groups import IN_LINEAGE_ORDER
from assets.ingestion import raw_flights
from assets.kit.curves import INLINE_MARKDOWN_LIMIT
from assets.kit.glance import MEASURE
from pipelines.definitions import defs
from resources.lake import Lake
from tests import dagster_ui
from tests.dagster_ui import (
    PAGE_TIMEOUT_MS,
    REPOSITORY,
    artifacts_folder,
    chromium_page,
    dagster_dev,
    dagster_instance_home,
    pause_automation,
    require_chromium,
)
from tests.model_data import (
    days_between,
    materialize_registry,
    resources,
    split_config,
    write_features,
)
from tests.readme import readme_materialize_line

DAYS = days_between("2013-01-01", "2013-01-03")  # what landed_home has landed
DAY = "2013-01-02"  # the partition launched from the UI
README_DAY = "2013-01-03"  # the partition the README's command line materialises
RUN_TIMEOUT_S = 180
expect.set_options(timeout=PAGE_TIMEOUT_MS)
MODEL_ASSETS = [
    feature_store.training_set,
    delay_models.delay_model_lgbm,
    delay_models.delay_model_torch,
    delay_models.model_evaluation,
]


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    return artifacts_folder(request, "ui", "Dagster UI")


@pytest.fixture(scope="module")
def ui_home(
    landed_home: Path, january_lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """landed_home's days validated, their features, and a model_evaluation on the instance.

    The models train on a day, stop early on the next, test on the third: seconds, and enough
    for the evaluation's metadata (its curves and scores) that the UI must show.
    """
    home = tmp_path_factory.mktemp("ui")
    shutil.copytree(landed_home, home, dirs_exist_ok=True)
    lake = Lake(root=str(home / "lake"))
    for table in ("flights", "weather"):
        for day in DAYS:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    write_features(lake, DAYS)
    materialize_registry(home)
    instance_home = dagster_instance_home(home)
    first, valid, last = (day.isoformat() for day in DAYS)
    config = split_config(train_end=first, valid_end=valid, test_end=last, start=first)
    config["ops"]["training_set"] = {"config": {"start": first, "end": last}}
    with dg.DagsterInstance.from_config(str(instance_home)) as instance:
        # On three days the gate refuses both candidates (the run fails), after the evaluation.
        dg.materialize(MODEL_ASSETS, resources=resources(home), run_config=config,
                       instance=instance, raise_on_error=False)  # fmt: skip
        assert instance.get_latest_materialization_event(delay_models.model_evaluation.key)
        pause_automation(instance)
    return home, instance_home


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    """Before any data is built: without Chromium the module skips (fails under CI)."""
    require_chromium()


@pytest.fixture(scope="module")
def ui(ui_home: tuple[Path, Path], artifacts: Path) -> Iterator[str]:
    home, instance_home = ui_home
    with dagster_dev(home, instance_home, artifacts / "dagster-dev.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(ui: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


@pytest.fixture
def instance(ui_home: tuple[Path, Path]) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(ui_home[1])) as instance:
        yield instance


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / f"{name}.png")


def test_the_asset_graph_draws_every_group(page: Page, ui: str, artifacts: Path) -> None:
    groups = sorted({spec.group_name for spec in defs.resolve_all_asset_specs()})
    assert len(groups) > 1
    page.goto(f"{ui}/asset-groups")
    graph = page.locator("svg")
    for group in groups:
        expect(graph.get_by_text(group, exact=True)).to_be_visible()
    _shot(page, artifacts, "01-asset-graph")


def test_a_partition_launched_from_the_ui_succeeds_with_its_checks(
    page: Page, ui: str, artifacts: Path, instance: dg.DagsterInstance
) -> None:
    key = raw_flights.key
    assert DAY not in instance.get_materialized_partitions(key)

    page.goto(f"{ui}/assets/raw_flights")
    page.get_by_role("button", name="Materialize…").click()
    # The reference tables were written outside this instance: the UI rightly asks first.
    warning = page.get_by_role("dialog").filter(has_text="Are you sure?")
    expect(warning).to_contain_text("raw_airlines")
    warning.get_by_role("button", name="Confirm").click()
    launch = page.get_by_role("dialog").filter(has_text="Launch runs to materialize raw_flights")
    partitions = launch.get_by_placeholder(re.compile("^ex: "))
    partitions.fill(DAY)
    partitions.press("Enter")
    expect(launch).to_contain_text("1 partition")
    _shot(page, artifacts, "02-partition-dialog")
    launch.get_by_role("button", name="Launch 1 run").click()
    toast = page.locator('a[href^="/runs/"]', has_text="View")
    run_id = (toast.get_attribute("href") or "").removeprefix("/runs/")
    _shot(page, artifacts, "03-launched")

    status = _wait_for_run_on_runs_page(page, ui, run_id)
    _shot(page, artifacts, "04-runs-page")
    if status != "Success":
        failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        errors = [str(f.dagster_event.event_specific_data) for f in failures if f.dagster_event]
        pytest.fail(f"the UI says {status}; step failures: {errors}; see {artifacts}")

    # The UI and the truth agree: the run succeeded, and it materialised that partition.
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == DAY
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[DAY]), limit=1
    ).records
    assert record.run_id == run_id
    assert DAY in instance.get_materialized_partitions(key)
    # Sensors and schedules were stopped: no other run was launched.
    others = [r for r in instance.get_runs() if r.run_id != run_id]
    assert all("dagster/sensor_name" not in r.tags for r in others)
    assert all("dagster/schedule_name" not in r.tags for r in others)

    # Every check of the asset ran on the materialisation that run made, and its verdict is
    # what the UI lists.
    evaluations = [
        entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    assert all(
        e.target_materialization_data and e.target_materialization_data.run_id == run_id
        for e in evaluations
    )
    passed = {e.check_name: e.passed for e in evaluations}
    assert set(passed) == {spec.name for spec in raw_flights.check_specs}
    page.goto(f"{ui}/assets/raw_flights?view=checks")
    expect(page.get_by_text(f"Checks ({len(passed)})")).to_be_visible()
    for name, verdict in passed.items():
        # A check's row: its (middle-truncated) name, titled in full, and its status below.
        item = page.locator("span", has=page.locator(f'[title="{name}"]')).first
        expect(item).to_contain_text("Succeeded" if verdict else "Failed")
    _shot(page, artifacts, "05-checks")

    graph = defs.resolve_asset_graph().get(key)
    page.goto(f"{ui}/assets/raw_flights?view=lineage")
    lineage = page.locator("svg")
    for neighbour in sorted({key, *graph.parent_keys, *graph.child_keys}):
        expect(lineage.get_by_text(neighbour.to_user_string(), exact=True)).to_be_visible()
    _shot(page, artifacts, "06-lineage")


def test_model_evaluation_shows_its_metric_plots_and_curves(
    page: Page, ui: str, artifacts: Path, instance: dg.DagsterInstance
) -> None:
    event = instance.get_latest_materialization_event(delay_models.model_evaluation.key)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    plotted = sorted(
        k
        for k, v in metadata.items()
        if isinstance(v, (dg.FloatMetadataValue, dg.IntMetadataValue))
    )
    assert plotted, "model_evaluation reports no number to plot"
    curves = str(metadata["curves"].value)
    png = base64.b64decode(curves.split("base64,", 1)[1].rstrip(")"))
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR size

    page.goto(f"{ui}/assets/model_evaluation")
    page.get_by_role("button", name="Plots").click()
    for name in plotted:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    expect(page.locator("canvas")).to_have_count(len(plotted))
    _shot(page, artifacts, "07-model-evaluation-plots")

    page.get_by_role("button", name="Table").click()
    page.get_by_role("row").filter(has_text="curves").get_by_text("[Show Markdown]").click()
    image = page.get_by_role("dialog").get_by_role("img", name="curves")
    expect(image).to_be_visible()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [width, height]
    _shot(page, artifacts, "08-model-evaluation-curves")


def _wait_for_run_on_runs_page(page: Page, ui: str, run_id: str) -> str:
    """Reload the Runs page filtered to the run until it shows an end status; return it."""
    page.goto(f"{ui}/runs?q%5B0%5D=id%3A{run_id}")
    expect(page.locator(f'a[href="/runs/{run_id}"]').first).to_be_visible()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        for status in ("Success", "Failure", "Canceled"):
            if page.get_by_text(status, exact=True).is_visible():
                return status
        page.wait_for_timeout(3_000)
        page.reload()
        expect(page.locator(f'a[href="/runs/{run_id}"]').first).to_be_visible()
    return f"not finished after {RUN_TIMEOUT_S} s"


def test_a_missing_chromium_skips_loudly_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dagster_ui, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="SKIPPED LOUDLY"):
        require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        require_chromium()
    monkeypatch.setattr(dagster_ui, "CHROMIUM", tmp_path)  # present: no word
    require_chromium()


def test_the_groups_are_listed_in_lineage_order(page: Page, ui: str, artifacts: Path) -> None:
    page.goto(f"{ui}/asset-groups")
    # The lineage page's side list: one row per group, titled with its name.
    rows = [page.locator(f'[title="{group}"]').first for group in IN_LINEAGE_ORDER]
    for row in rows:
        expect(row).to_be_visible()
    tops = [(row.bounding_box() or {"y": -1.0})["y"] for row in rows]
    _shot(page, artifacts, "09-groups-in-lineage-order")
    placed = dict(zip(IN_LINEAGE_ORDER, tops, strict=True))
    assert tops == sorted(tops) and len(set(tops)) == len(tops), placed


def test_the_readme_materialize_line_shows_each_days_checks_in_the_ui(
    page: Page, ui: str, artifacts: Path, ui_home: tuple[Path, Path], instance: dg.DagsterInstance
) -> None:
    # As the README has it, on a day landed here; the user's shell has no DAGSTER_HOME.
    line = readme_materialize_line()
    line[line.index("--partition") + 1] = README_DAY
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["FLIGHTPATH_HOME"] = str(ui_home[0])
    done = subprocess.run(
        [str(Path(sys.executable).parent / line[0]), *line[1:]], cwd=REPOSITORY, env=env,
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 3, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": README_DAY}))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    page.goto(f"{ui}/runs")
    expect(page.locator(f'a[href="/runs/{run.run_id}"]').first).to_be_visible()
    _shot(page, artifacts, "10-readme-run-in-the-ui")

    # Each check's verdict is recorded for that day, and the UI lists it under the day.
    verdicts = {
        e.check_name: e
        for e in (
            entry.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
            for entry in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        )
        if e.asset_key == raw_flights.key
    }
    assert set(verdicts) == {spec.name for spec in raw_flights.check_specs}
    assert {e.partition for e in verdicts.values()} == {README_DAY}
    name = "carrier_known"
    page.goto(f"{ui}/assets/raw_flights?view=checks&checkDetail={name}")
    expect(page.get_by_role("tab", name="Execution history")).to_be_visible()
    page.get_by_role("tab", name="Partitions").last.click()  # the check's, not the asset's
    page.get_by_placeholder("Filter by partition…").fill(README_DAY)
    page.get_by_text(README_DAY, exact=True).first.click()
    # The day's detail: its verdict, and the run that made it.
    detail = (
        page.locator("div")
        .filter(has=page.get_by_text("Target materialization", exact=True))
        .filter(has=page.get_by_text(README_DAY, exact=True))
        .last
    )
    expect(detail).to_contain_text(run.run_id[:8])
    _shot(page, artifacts, "11-check-per-partition")
    expect(detail).to_contain_text("Passed" if verdicts[name].passed else "Failed")


def test_model_evaluation_reads_at_a_glance(
    page: Page, ui: str, artifacts: Path, instance: dg.DagsterInstance
) -> None:
    event = instance.get_latest_materialization_event(delay_models.model_evaluation.key)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    metrics = metadata["metrics"]
    assert isinstance(metrics, dg.TableMetadataValue)
    roc = str(metadata["roc_curves"].value)
    assert len(roc) < INLINE_MARKDOWN_LIMIT  # else the UI hides it behind "[Show Markdown]"

    page.goto(f"{ui}/assets/model_evaluation")  # its Overview: the latest metadata, no click
    # The metadata's table scrolls sideways in its own box, which ends where the page's side
    # panel begins: whatever is wider than the box is cut off at a glance.
    box = page.locator('[class^="AssetEventMetadataEntriesTable_assetEventMetadataScroll"]')
    expect(box.get_by_role("row").filter(has_text="slices").locator("table")).to_be_visible()
    box.scroll_into_view_if_needed()
    _shot(page, artifacts, "12-model-evaluation-at-a-glance")
    overflow = box.evaluate("box => box.scrollWidth - box.clientWidth")
    assert overflow <= 0, f"the metadata runs {overflow} px past its box: scroll to read it"
    # The metrics, a row per measure with each model's value, drawn in place.
    table = page.locator("table table").filter(has=page.get_by_role("columnheader", name=MEASURE))
    for record in metrics.value.records:
        row = table.get_by_role("row").filter(has_text=str(record.data[MEASURE]))
        for value in record.data.values():
            if value is not None:
                shown = f"{value:g}" if isinstance(value, float) else str(value)  # 0.0 as 0
                expect(row).to_contain_text(shown)
    # The ROC curves, drawn in place: no dialog was opened.
    image = page.get_by_role("img", name="ROC")
    expect(image).to_be_visible()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=image.element_handle()
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    image.scroll_into_view_if_needed()
    _shot(page, artifacts, "13-model-evaluation-roc")
