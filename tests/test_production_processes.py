"""prod-down's stop, on real processes: polite when it can be, SIGKILL when it must, none left."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from apps.production.processes import alive, process_tree, start, stop

READY = "print('ready', flush=True); "
SLEEPER = "import time; " + READY + "time.sleep(600)"
# Ignores SIGTERM itself, as `dagster api grpc` does when its SIGINT/SIGTERM came in ignored.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    + READY
    + ("time.sleep(600)")
)
# Starts a child in a session of its own, as BentoML's process manager starts its workers.
ESCAPER = (
    "import subprocess, sys, time; "
    f"subprocess.Popen([sys.executable, '-c', {SLEEPER!r}], start_new_session=True); "
    + READY
    + "time.sleep(600)"
)


def _start(code: str, tmp_path: Path) -> int:
    group = start([sys.executable, "-c", code], dict(os.environ), tmp_path / "log", tmp_path)
    deadline = time.monotonic() + 30
    # Ready: its handlers are set (and its child started) once it says so.
    while "ready" not in (tmp_path / "log").read_text():
        assert time.monotonic() < deadline, "the process did not start"
        time.sleep(0.1)
    return group


def test_a_process_started_with_stop_signals_ignored_stops_on_sigterm(tmp_path: Path) -> None:
    inherited = [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)]
    try:
        group = _start(SLEEPER, tmp_path)
    finally:
        signal.signal(signal.SIGINT, inherited[0])
        signal.signal(signal.SIGTERM, inherited[1])
    assert stop(group, timeout=20) == "stopped"
    assert not process_tree(group)


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    group = _start(STUBBORN, tmp_path)
    assert stop(group, timeout=1) == "killed"
    assert not process_tree(group)


def test_a_child_in_its_own_session_is_stopped_with_its_parent(tmp_path: Path) -> None:
    group = _start(ESCAPER, tmp_path)
    tree = process_tree(group)
    assert len(tree) == 2
    assert stop(group, timeout=20) in ("stopped", "killed")
    assert not alive(tree)


def test_stopping_what_is_not_running_says_so(tmp_path: Path) -> None:
    group = _start(SLEEPER, tmp_path)
    stop(group, timeout=20)
    assert stop(group, timeout=1) == "not running"
