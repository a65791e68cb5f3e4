"""The local instance's run launcher: Dagster's default, with a worker health check.

Run monitoring can only fail a run whose worker died if the launcher can tell; the default one
cannot, so a run killed mid-way stayed STARTED. Production's K8sRunLauncher checks its pods.
"""

import os
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Runs in a process on this machine: alive while the process that started the run is."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid = run_worker_pid(self._instance, run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run has not started")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone")


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process that started the run (its RUN_START event's)."""
    started = instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
    event = started[0].dagster_event if started else None
    return event.pid if event else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    # A killed child its parent has not reaped yet is a zombie: dead all the same.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())
