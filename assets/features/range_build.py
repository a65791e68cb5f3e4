"""The full-range feature build: one DuckDB query over many days, written by DuckDB itself.

Backfilling a year one partition at a time re-reads 32 days of history per day; one query over
the whole range reads it once. Its result (10M rows for a year of all US flights) never passes
through pandas: `COPY … TO` writes one Parquet file per day straight from DuckDB's pipeline,
within the memory limit of `FLIGHTPATH_DUCKDB_MEMORY` (spilling beyond it). The files land in
a staging folder first and are then moved into the lake's layout one by one, each move
replacing a whole partition, so a reader never sees half of a day.

The values are the per-day build's (tests/test_range_build.py): one range query sees the same
events before each T, with one exception the data does not have. A day's partition ignores
flights scheduled on later days, and the range query would count one that departed or landed
before its own scheduled day began (in 2013 none did: no departure before 05:00 local).
"""

from __future__ import annotations

import uuid
from datetime import date

from assets.features.build import DAY_FLIGHTS, dated_sql
from resources.lake import Lake

TABLE = "flight_features"
STAGING = ".staging"  # under the lake root: same filesystem, so a move is a rename


def write_flight_features(lake: Lake, start: date, end: date) -> dict[date, int]:
    """The `flight_features` partitions of local days `start`..`end`, as the asset writes them
    one day at a time; returns the rows written per day (days without flights get no file)."""
    staging = lake.path(STAGING, f"{TABLE}-{uuid.uuid4().hex}")
    copy = (
        f"COPY ({dated_sql(lake, DAY_FLIGHTS)}) TO '{staging}' "
        "(FORMAT parquet, PARTITION_BY (date), FILENAME_PATTERN 'part-{i}')"
    )
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        with lake.connect() as connection:
            connection.execute(copy, {"start": start, "end": end})
            written = connection.execute(
                f"SELECT date, count(*) FROM read_parquet('{staging}/date=*/*.parquet', "
                "hive_partitioning = true) GROUP BY date ORDER BY date"
            ).fetchall()
        rows = {day: count for day, count in written}
        for day in rows:
            staged = staging.joinpath(f"date={day.isoformat()}", "part-0.parquet")
            final = lake.partition_path(TABLE, day)
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.fs.mv(staged.path, final.path)
        return rows
    finally:
        if staging.exists():
            staging.fs.rm(staging.path, recursive=True)
