"""A run killed mid-way is failed by run monitoring, and re-executing it from failure writes
exactly what an uninterrupted run writes."""

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
from dagster._core.definitions.automation_tick_evaluation_context import (
    AutomationTickEvaluationContext,
)
from dagster._core.events import DagsterEventType
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.monitoring import execute_run_monitoring_iteration
from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration

from assets.features.feature_store import ONLINE_STORE_POOL
from pipelines.automation import automation
from pipelines.definitions import build_definitions
from resources.feature_store import FeatureStoreResource
from resources.home import dagster_home
from tests.conftest import FEATURE_DAYS

DAY = FEATURE_DAYS[-1]
REPO = Path(__file__).parent.parent
# The job a child process runs: the same code location `flightpath dev` loads, on its home.
CHILD = f"""
import dagster as dg
from tests.test_run_faults import daily_features
with dg.DagsterInstance.get() as instance:
    dg.execute_job(dg.reconstructable(daily_features), instance=instance,
                   tags={{"dagster/partition": "{DAY}"}})
"""
LOG = logging.getLogger(__name__)


def daily_features() -> dg.JobDefinition:
    return build_definitions().resolve_job_def("daily_features")


def _home(feature_home: Path, home: Path) -> Path:
    shutil.copytree(feature_home / "lake", home / "lake")
    FeatureStoreResource(home=str(home)).apply()
    return home


def _written(home: Path) -> dict[str, str]:
    """Content hash of each partition file the day's run writes."""
    lake = home / "lake"
    files = [lake / "flight_features" / f"date={DAY}" / "part-0.parquet",
             *sorted(lake.glob(f"online_snapshots/*/date={DAY}/part-0.parquet"))]  # fmt: skip
    assert len(files) == 6
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _wait_for_step(instance: dg.DagsterInstance, child: subprocess.Popen, step: str) -> str:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before it could be killed"
        for run in instance.get_runs(limit=1):
            starts = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
            if any(event.step_key == step for event in starts):
                return run.run_id
        time.sleep(0.05)
    raise AssertionError(f"{step} never started")


def _monitor(instance: dg.DagsterInstance) -> None:
    """One pass of the daemon's run monitoring and pool-slot release."""
    with WorkspaceProcessContext(instance, EmptyWorkspaceTarget()) as context:
        list(execute_run_monitoring_iteration(context, LOG))
        list(execute_concurrency_slots_iteration(context, LOG))


@pytest.fixture
def clean_run(feature_home: Path, tmp_path: Path) -> dict[str, str]:
    home = _home(feature_home, tmp_path / "clean")
    env = {**os.environ, "FLIGHTPATH_HOME": str(home), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", CHILD], env={**env, "DAGSTER_HOME": str(tmp_path)},
                   cwd=REPO, check=True, capture_output=True, timeout=300)  # fmt: skip
    return _written(home)


def test_a_killed_run_fails_and_reexecutes_to_the_same_outputs(
    feature_home: Path, tmp_path: Path, clean_run: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(feature_home, tmp_path / "killed")
    monkeypatch.setenv("FLIGHTPATH_HOME", str(home))
    instance_dir = dagster_home()  # the dagster.yaml `flightpath dev` runs on
    env = {**os.environ, "DAGSTER_HOME": str(instance_dir), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        try:
            run_id = _wait_for_step(instance, child, "online_features")
            # The online store's one writer: this run holds the pool's only slot.
            pool = instance.event_log_storage.get_concurrency_info(ONLINE_STORE_POOL)
            assert pool.slot_count == 1
            assert [slot.run_id for slot in pool.claimed_slots] == [run_id]
            _monitor(instance)  # quiet while the worker lives
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]

        _monitor(instance)
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        time.sleep(instance.run_monitoring_settings["free_slots_after_run_end_seconds"] + 1)
        _monitor(instance)  # frees the online store's pool slot the dead run held

        retry = dg.execute_job(
            dg.reconstructable(daily_features),
            instance=instance,
            reexecution_options=dg.ReexecutionOptions.from_failure(run_id, instance),
            tags={"dagster/partition": DAY},  # as the UI's re-execution copies them
        )
        assert retry.success
        assert "online_features" in {e.step_key for e in retry.get_step_success_events()}
    assert _written(home) == clean_run


def test_automation_asks_for_a_run_per_day_not_a_backfill() -> None:
    """A backfill counts a day done once its asset materialised, even when the day's blocking
    check then failed its run: the group would read Success. Runs show their own failure."""
    defs = build_definitions()

    def tick(
        instance: dg.DagsterInstance, cursor: AssetDaemonCursor
    ) -> tuple[list, AssetDaemonCursor]:
        requests, cursor, _ = AutomationTickEvaluationContext(
            evaluation_id=cursor.evaluation_id + 1,
            instance=instance,
            asset_graph=defs.resolve_asset_graph(),
            cursor=cursor,
            materialize_run_tags={},
            observe_run_tags={},
            auto_observe_asset_keys=set(),
            asset_selection=automation.asset_selection,
            logger=LOG,
            emit_backfills=automation.emit_backfills,  # as the daemon evaluates the sensor
        ).evaluate()
        return list(requests), cursor

    with dg.instance_for_test() as instance:
        for key in ("raw_planes", "feast_registry"):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        _, cursor = tick(instance, AssetDaemonCursor.empty())
        for day in FEATURE_DAYS[-2:]:  # two days land and are validated
            for key in ("flights", "weather"):
                instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day))
        requests, _ = tick(instance, cursor)
    assert requests and not any(request.requires_backfill_daemon() for request in requests)
    assert {request.partition_key for request in requests} == set(FEATURE_DAYS[-2:])
