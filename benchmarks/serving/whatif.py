"""What if: our service with further suggested changes applied from outside, to size them.

    BENCH_WHATIF=notrace,flushthread bentoml serve benchmarks.serving.whatif:DelayService

NOT the service, and not a patch for it: a measurement of where the suggestions would take it.
Over `bentos.service:DelayService`, unchanged otherwise (BENCH_WHATIF picks, default all):
  notrace      no OpenTelemetry span for `/predict` (the service setting
               `tracing={"excluded_urls": ["/predict"]}`);
  flushthread  the prediction log is written only by its flusher thread, every second, never
               inside a request (`PredictionLog.append` flushes inline at 1,000 rows).
The five views in one Redis pipeline, once a suggestion here, is the service's own read now
(bentos/view_reads.py; online_reads.py sizes it). BENCH_WATCH_DIR set: GC passes and log
flushes are recorded (watch.py). BentoML's `workers` come from BENTOML_CONFIG_OVERRIDES
(ablation.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.serving import watch
from bentos.prediction_log import PredictionLog
from bentos.service import DelayService

__all__ = ["DelayService"]
CHANGES = set(os.environ.get("BENCH_WHATIF", "notrace,flushthread").split(","))

Service: Any = DelayService.inner  # type: ignore[attr-defined]
_init = Service.__init__


def __init__(self: Any) -> None:
    _init(self)
    if "flushthread" in CHANGES:
        self.log.max_seconds = 1.0  # read by the flusher at its next wait


def append(self: PredictionLog, rows: list[dict[str, Any]]) -> None:
    with self._lock:
        self._rows.extend(rows)


Service.__init__ = __init__
if "flushthread" in CHANGES:
    PredictionLog.append = append  # type: ignore[method-assign]
if "notrace" in CHANGES:
    DelayService.config["tracing"] = {"excluded_urls": ["/predict"]}  # type: ignore[attr-defined]
if os.environ.get("BENCH_WATCH_DIR"):
    watch.install(Path(os.environ["BENCH_WATCH_DIR"]))
