"""The full-range feature build: DuckDB queries over many days, written by DuckDB itself.

Backfilling a year one partition at a time re-reads 32 days of history per day; one query over
a run of days reads it once. The range is cut into runs of whole days of about CHUNK_FLIGHTS
flights, one query each in one connection: a query that fits the memory limit of
`FLIGHTPATH_DUCKDB_MEMORY` does not spill (a run re-reads only its own 32 days of history). The
result (10M rows for a year of all US flights) never passes through pandas: `COPY … TO` writes
one Parquet file per day straight from DuckDB's pipeline. The files land in a staging folder
first and are then moved into the lake's layout one by one, each move replacing a whole
partition, so a reader never sees half of a day.

The values are the per-day build's (tests/test_range_build.py): one range query sees the same
events before each T, with one exception the data does not have. A day's partition ignores
flights scheduled on later days, and the range query would count one that departed or landed
before its own scheduled day began (in 2013 none did: no departure before 05:00 local).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import duckdb

from assets.features.build import DAY_FLIGHTS, dated_sql
from resources.lake import Lake

TABLE = "flight_features"
STAGING = ".staging"  # under the lake root: same filesystem, so a move is a rename
# Target flights per query. A longer range is built in runs of whole days, one query each, every
# one reading its own 32 days of history: within the default 4GB memory limit a query of 1M
# flights runs without spilling, while one query over 3.4M (10x the real year) spilled.
CHUNK_FLIGHTS = 1_000_000


def write_flight_features(
    lake: Lake, start: date, end: date, chunk_flights: int = CHUNK_FLIGHTS
) -> dict[date, int]:
    """The `flight_features` partitions of local days `start`..`end`, as the asset writes them
    one day at a time; returns the rows written per day (days without flights get no file).
    The days are built in runs of about `chunk_flights` flights, one query each."""
    staging = lake.path(STAGING, f"{TABLE}-{uuid.uuid4().hex}")
    try:
        staging.mkdir(parents=True, exist_ok=True)
        rows: dict[date, int] = {}
        folders: dict[date, str] = {}
        with lake.connect() as connection:
            for number, (first, last) in enumerate(
                _chunks(connection, lake, start, end, chunk_flights)
            ):
                folder = staging.joinpath(str(number))
                copy = (
                    f"COPY ({dated_sql(lake, DAY_FLIGHTS)}) TO '{folder}' "
                    "(FORMAT parquet, PARTITION_BY (date), FILENAME_PATTERN 'part-{i}')"
                )
                copied = connection.execute(copy, {"start": first, "end": last}).fetchone()
                if not copied or not copied[0]:
                    continue  # no flights: no files
                written = connection.execute(
                    f"SELECT date, count(*) FROM read_parquet('{folder}/date=*/*.parquet', "
                    "hive_partitioning = true) GROUP BY date ORDER BY date"
                ).fetchall()
                for day, count in written:
                    rows[day] = count
                    folders[day] = str(number)
        for day in rows:
            staged = staging.joinpath(folders[day], f"date={day.isoformat()}", "part-0.parquet")
            final = lake.partition_path(TABLE, day)
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.fs.mv(staged.path, final.path)
        return rows
    finally:
        if staging.exists():
            staging.fs.rm(staging.path, recursive=True)


def _chunks(
    connection: duckdb.DuckDBPyConnection, lake: Lake, start: date, end: date, flights: int
) -> list[tuple[date, date]]:
    """`start`..`end` cut into consecutive runs of whole days of at most `flights` flights each
    (or one day, where a day has more)."""
    per_day = connection.execute(
        f"SELECT date, count(*) FROM {lake.scan('flights')} "
        "WHERE date BETWEEN $start AND $end GROUP BY date ORDER BY date",
        {"start": start, "end": end},
    ).fetchall()
    chunks: list[tuple[date, date]] = []
    first, taken = start, 0
    for day, count in per_day:
        if taken and taken + count > flights:
            chunks.append((first, day - timedelta(days=1)))
            first, taken = day, 0
        taken += count
    chunks.append((first, end))
    return chunks
