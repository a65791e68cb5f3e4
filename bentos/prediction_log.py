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

import pyarrow as pa
import pyarrow.parquet as pq
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
        by_day: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_day.setdefault(row["date"], []).append(row)
        for day, rows_of_day in by_day.items():
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
            table = _table(rows_of_day)
            if not isinstance(self.root, Path):  # a bucket (the production profile)
                buffer = io.BytesIO()
                pq.write_table(table, buffer)
                target = self.root / f"date={day}" / name
                target.fs.pipe_file(target.path, buffer.getvalue())
                continue
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            os.close(handle)
            pq.write_table(table, temp)
            os.replace(temp, folder / name)
        return len(rows)

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.max_seconds):
            self.flush()


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as columns: every key any row has, but `date` (the folder says it), with
    timestamps in nanoseconds as the log's files always had them. Built column by column by
    Arrow, not through a pandas frame: half the flush's cost per row (3.3 against 7 µs)."""
    names = [name for name in dict.fromkeys(key for row in rows for key in row) if name != "date"]
    table = pa.table({name: [row.get(name) for row in rows] for name in names})
    nanoseconds = [
        pa.field(f.name, pa.timestamp("ns", f.type.tz)) if pa.types.is_timestamp(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(nanoseconds))
