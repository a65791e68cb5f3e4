"""The lake: Parquet files partitioned by date, queried with DuckDB.

`root` is a local folder (embedded profile) or `s3://bucket/prefix/lake` (production): the same
code reads and writes both, DuckDB through the fsspec filesystem registered on its connection.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
from upath import UPath

from flightpath.duckdb_settings import DuckDBSettings
from flightpath.parquet_files import read_parquet_file, write_atomically
from flightpath.storage import is_remote, location, object_storage


class LakeFiles:
    """`<table>/date=<YYYY-MM-DD>/part-0.parquet` per daily partition, `<table>.parquet` otherwise.

    Each partition is one file replaced atomically, so re-materialising a partition replaces it
    exactly. DuckDB reads the files; there is no shared .duckdb database to lock. The assets use
    it as the Dagster resource `resources.lake.Lake`, which is this class configured by Dagster.
    """

    root: str

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, *parts: str) -> UPath:
        """A file or folder of the lake; `str()` of it is what DuckDB's `read_parquet` takes."""
        return location(self.root).joinpath(*parts)

    def partition_path(self, table: str, day: date) -> UPath:
        return self.path(table, f"date={day.isoformat()}", "part-0.parquet")

    def table_path(self, table: str) -> UPath:
        return self.path(f"{table}.parquet")

    def write_partition(self, table: str, day: date, frame: pd.DataFrame) -> UPath:
        path = self.partition_path(table, day)
        write_atomically(frame, path)
        return path

    def read_partition(self, table: str, day: date) -> pd.DataFrame:
        return read_parquet_file(self.partition_path(table, day))

    def write_table(self, table: str, frame: pd.DataFrame) -> UPath:
        path = self.table_path(table)
        write_atomically(frame, path)
        return path

    def read_table(self, table: str) -> pd.DataFrame:
        return read_parquet_file(self.table_path(table))

    def scan(self, table: str) -> str:
        """A DuckDB table expression over every partition of `table` (with its `date` column)."""
        pattern = self.path(table, "date=*", "*.parquet")
        return f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB connection (a context manager) for queries over the files,
        bounded as `FLIGHTPATH_DUCKDB_*` say (flightpath/duckdb_settings.py)."""
        connection = duckdb.connect(config=DuckDBSettings.from_environment().config())
        if is_remote(self.root):
            # No httpfs extension is needed (nor downloaded): s3:// goes through s3fs.
            connection.register_filesystem(object_storage())
        return connection

    def scan_days(self, table: str, first: date, last: date) -> str:
        """Like `scan`, over the partitions `first`..`last` only (DuckDB prunes the others)."""
        where = f"date BETWEEN DATE '{first}' AND DATE '{last}'"
        return f"(SELECT * FROM {self.scan(table)} WHERE {where})"

    def query(
        self,
        sql: str,
        parameters: dict[str, object] | None = None,
        frames: dict[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """Run `sql` on a fresh in-memory DuckDB connection and fetch the result fully.

        `frames` are registered as views under their names for the query to use.
        """
        with self.connect() as connection:
            for name, frame in (frames or {}).items():
                connection.register(name, frame)
            return connection.execute(sql, parameters or {}).df()
