"""The prediction log's files: one per day and flush, every column any row has, timestamps in
nanoseconds, the day in the folder's name only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bentos.prediction_log import PredictionLog


def _row(request: str, day: str, probability: float, **extra: object) -> dict[str, object]:
    return {
        "request_id": request, "flight_id": f"UA1-EWR-{request}", "role": "champion",
        "probability": probability, "logged_at": datetime(2026, 12, 7, 17, 0, 1, 123456, UTC),
        "degraded": False, "features": "{}", "date": day, **extra,
    }  # fmt: skip


def test_a_flush_writes_a_file_a_day_with_every_column_any_row_has(tmp_path: Path) -> None:
    rows = [
        _row("a", "2013-02-01", 0.25),
        _row("b", "2013-02-02", 0.5),
        _row("c", "2013-02-01", 0.75, stale=True),  # a column only some rows have
    ]
    log = PredictionLog(tmp_path, max_seconds=3600)
    log.append(rows)
    assert log.flush() == 3
    log.close()
    [first] = (tmp_path / "date=2013-02-01").glob("*.parquet")
    [second] = (tmp_path / "date=2013-02-02").glob("*.parquet")
    schema = pq.read_schema(first)
    assert schema.field("logged_at").type == pa.timestamp("ns", "UTC")
    assert schema.field("probability").type == pa.float64()
    assert schema.field("degraded").type == pa.bool_()
    assert "date" not in schema.names  # the folder says it
    day = pd.read_parquet(first)
    assert day["request_id"].tolist() == ["a", "c"]
    assert day["probability"].tolist() == [0.25, 0.75]
    assert day["stale"].tolist()[1] is True and pd.isna(day["stale"].tolist()[0])
    assert (day["logged_at"] == pd.Timestamp("2026-12-07 17:00:01.123456", tz="UTC")).all()
    assert pd.read_parquet(second)["request_id"].tolist() == ["b"]
