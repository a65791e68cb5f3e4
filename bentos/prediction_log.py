"""Every answered prediction, appended to the lake in batches, for monitoring and late labels.

Rows wait in memory and are written every `max_rows` rows or `max_seconds`, and at shutdown,
as a new file under `prediction_log/date=<scheduled local day>/`: files are only ever added
(each written to a temporary name, then renamed), so readers never see half a batch.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd


class PredictionLog:
    def __init__(self, root: Path, max_rows: int = 1000, max_seconds: float = 5.0) -> None:
        self.root, self.max_rows, self.max_seconds = root, max_rows, max_seconds
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, daemon=True)
        self._flusher.start()

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows.extend(rows)
            full = len(self._rows) >= self.max_rows
        if full:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        frame = pd.DataFrame(rows)
        for day, part in frame.groupby("date"):
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
            handle, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            os.close(handle)
            part.drop(columns="date").to_parquet(temp, index=False)
            os.replace(temp, folder / name)
        return len(rows)

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.max_seconds):
            self.flush()
