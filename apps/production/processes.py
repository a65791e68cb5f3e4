"""Long-running processes that outlive the command that started them, each in its own group.

A process started from a non-interactive shell inherits SIGINT (and, for some launchers,
SIGTERM) as *ignored*; `dagster api grpc` then never stops on a polite signal. Each process here
gets the default handlers back and a session of its own, so that its whole group (workers, run
subprocesses) can be signalled at once and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

# Signals a child must see at their defaults whatever its parent ignored.
RESTORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _default_signals() -> None:
    for number in RESTORED:
        signal.signal(number, signal.SIG_DFL)


def start(argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> int:
    """Start `argv` in a new session, its output appended to `log`; returns its pid (its group)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_signals,
        )  # fmt: skip
    return process.pid


def _live_processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent, group) of every live process (zombies are dead: only reaping is due)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def process_tree(group: int) -> set[int]:
    """The live processes of a group and all their descendants.

    Descendants count because some leave the group: BentoML's process manager (circus) starts
    each API worker in a session of its own.
    """
    table = _live_processes()
    tree = {pid for pid, (_, pgrp) in table.items() if pgrp == group}
    while True:
        children = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
        if not children:
            return tree
        tree |= children


def alive(pids: set[int]) -> set[int]:
    return pids & set(_live_processes())


def stop(group: int, timeout: float) -> str:
    """SIGTERM to the group, then SIGKILL to whatever of it (and its descendants) is left after
    `timeout` seconds. Returns how it ended: "not running", "stopped" or "killed"."""
    tree = process_tree(group)
    if not tree:
        return "not running"
    _signal_group(group, signal.SIGTERM)
    if _wait_gone(group, tree, timeout):
        return "stopped"
    _signal_group(group, signal.SIGKILL)
    for pid in alive(tree):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if _wait_gone(group, tree, 10):
        return "killed"
    raise RuntimeError(f"processes of group {group} survived SIGKILL: {alive(tree)}")


def _signal_group(group: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def _wait_gone(group: int, tree: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(tree) or process_tree(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
