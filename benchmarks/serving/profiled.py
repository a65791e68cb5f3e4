"""`bentos.service:DelayService`, unchanged, with cProfile on every thread of the worker.

    BENCH_PROFILE_DIR=/tmp/p [BENCH_WATCH_DIR=/tmp/w] bentoml serve \
        benchmarks.serving.profiled:DelayService

The main thread (uvicorn's event loop: HTTP, BentoML's parsing, the middleware) is profiled
from the import on, and each thread started afterwards (the API thread, the shadow scorer, the
prediction log's flusher) from its start. Whenever a file `<dir>/snapshot-<name>` appears, every
thread's statistics so far are written to `<dir>/<name>-<pid>-<thread>.prof` (pstats format),
without stopping the profilers: two snapshots bracket a measured window (`profiles.window`).
The timer is each thread's CPU clock, so time spent waiting (for the GIL, a socket, a lock)
counts nowhere; the profiler's own overhead slows the worker down (its rps is not comparable).
"""

from __future__ import annotations

import cProfile
import marshal
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.serving import watch
from bentos.service import DelayService

if os.environ.get("BENCH_WATCH_DIR"):  # GC passes and log flushes, by time (watch.py)
    watch.install(Path(os.environ["BENCH_WATCH_DIR"]))

__all__ = ["DelayService"]

_profiles: dict[str, cProfile.Profile] = {}


def _profile_this_thread(*_: Any) -> None:
    sys.setprofile(None)  # the hook below only starts the real profiler, then steps aside
    profile = cProfile.Profile(time.thread_time)  # CPU of this thread: waits cost nothing
    thread = threading.current_thread()
    _profiles[f"{thread.name}-{thread.ident}".replace(" ", "_").replace("/", "_")] = profile
    profile.enable()


def _watch(folder: Path) -> None:
    taken: set[str] = set()  # every process that imported this module answers each trigger
    while True:
        for trigger in folder.glob("snapshot-*"):
            name = trigger.name.removeprefix("snapshot-")
            if name in taken:
                continue
            taken.add(name)
            for thread, profile in list(_profiles.items()):
                profile.snapshot_stats()  # reads the counters; the profiler keeps running
                with open(folder / f"{name}-{os.getpid()}-{thread}.prof", "wb") as handle:
                    marshal.dump(profile.stats, handle)
            (folder / f"done-{name}-{os.getpid()}").touch()
        time.sleep(0.2)


if os.environ.get("BENCH_PROFILE_DIR") and threading.current_thread() is threading.main_thread():
    _folder = Path(os.environ["BENCH_PROFILE_DIR"])
    threading.Thread(target=_watch, args=(_folder,), name="profile-watch", daemon=True).start()
    threading.setprofile(_profile_this_thread)  # threads started from now on
    _profile_this_thread()  # this one: the worker's main thread runs the event loop
