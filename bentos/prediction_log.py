"""Every answered prediction, appended to the lake in batches, for monitoring and late labels.

Rows wait in memory and are written every `max_rows` rows or `max_seconds`, and at shutdown,
as a new file under `prediction_log/date=<scheduled local day>/`: files are only ever added
(each written to a temporary name, then renamed; in a bucket, one whole-object PUT), so readers
never see half a batch.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from upath import UPath


class PredictionLog:
    def __init__(self, root: Path | UPath, max_rows: int = 1000, max_seconds: float = 5.0) -> None:
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
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
            rows_of_day = part.drop(columns="date")
            if not isinstance(self.root, Path):  # a bucket (the production profile)
                buffer = io.BytesIO()
                rows_of_day.to_parquet(buffer, index=False)
                target = self.root / f"date={day}" / name
                target.fs.pipe_file(target.path, buffer.getvalue())
                continue
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            os.close(handle)
            rows_of_day.to_parquet(temp, index=False)
            os.replace(temp, folder / name)
        return len(rows)

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.max_seconds):
            self.flush()
