"""Stop-the-world events inside a server: GC passes and prediction-log flushes, with times.

`install(folder)` (from a wrapper module, in the worker) records every generation-2 (full)
collection and every `PredictionLog.flush` (its rows, its thread) with wall-clock start and
duration, and rewrites `<folder>/watch-<pid>.json` every second. `per_cell` cuts them by the
load cells' wall-clock windows. Generation 0 and 1 passes are only counted.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

_events: list[dict[str, Any]] = []
_young = {"count": 0, "ms": 0.0}


def install(folder: Path) -> None:
    from bentos.prediction_log import PredictionLog

    started: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started["at"], started["clock"] = time.time(), time.perf_counter()
            return
        ms = 1e3 * (time.perf_counter() - started.get("clock", time.perf_counter()))
        if info["generation"] == 2:
            _events.append({"kind": "gc2", "at": started["at"], "ms": ms})
        else:
            _young["count"] += 1
            _young["ms"] += ms

    original = PredictionLog.flush

    def flush(self: PredictionLog) -> int:
        at, clock = time.time(), time.perf_counter()
        rows = original(self)
        _events.append({"kind": "flush", "at": at, "ms": 1e3 * (time.perf_counter() - clock),
                        "rows": rows, "thread": threading.current_thread().name})  # fmt: skip
        return rows

    PredictionLog.flush = flush  # type: ignore[method-assign]
    gc.callbacks.append(on_gc)
    threading.Thread(target=_dump, args=(folder,), name="watch-dump", daemon=True).start()


def _dump(folder: Path) -> None:
    while True:
        time.sleep(1)
        text = json.dumps({"events": list(_events), "young": dict(_young)})
        (folder / f"watch-{os.getpid()}.json").write_text(text)


def per_cell(folder: Path, windows: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Per cell (connections, wall start, wall end): full collections and flushes in it."""
    files = [json.loads(p.read_text()) for p in folder.glob("watch-*.json")]
    events = [e for f in files for e in f["events"]]
    out = {}
    for connections, start, end in windows:
        inside = [e for e in events if start <= e["at"] < end]
        cell = {}
        for kind in ("gc2", "flush"):
            ms = [e["ms"] for e in inside if e["kind"] == kind and e.get("rows", 1)]
            cell[kind] = {"count": len(ms), "total_ms": sum(ms), "max_ms": max(ms, default=0.0)}
        cell["flush"]["in_request_thread"] = sum(
            1 for e in inside if e["kind"] == "flush" and "AnyIO" in e.get("thread", "")
        )
        out[str(connections)] = cell
    return out
