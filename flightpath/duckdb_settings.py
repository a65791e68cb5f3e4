"""How much of the machine the lake's DuckDB connections may take, from the environment.

`FLIGHTPATH_DUCKDB_MEMORY` (default 4GB) caps DuckDB's buffer manager: past it, sorts, windows
and joins spill to `FLIGHTPATH_DUCKDB_TEMP` instead of growing until the kernel kills someone.
DuckDB's own default, 80% of RAM, is wrong on a machine shared with other processes.
`FLIGHTPATH_DUCKDB_THREADS` defaults to DuckDB's choice (one per core).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

MEMORY_VARIABLE = "FLIGHTPATH_DUCKDB_MEMORY"
THREADS_VARIABLE = "FLIGHTPATH_DUCKDB_THREADS"
TEMP_VARIABLE = "FLIGHTPATH_DUCKDB_TEMP"
DEFAULT_MEMORY = "4GB"

ConfigValue = str | bool | int | float | list[str]


@dataclass(frozen=True)
class DuckDBSettings:
    memory_limit: str
    temp_directory: str
    threads: int | None = None

    @classmethod
    def from_environment(cls) -> DuckDBSettings:
        threads = os.environ.get(THREADS_VARIABLE, "").strip()
        return cls(
            memory_limit=os.environ.get(MEMORY_VARIABLE, "").strip() or DEFAULT_MEMORY,
            # The system's temp folder, not `.tmp/` in whatever the working directory is.
            temp_directory=os.environ.get(TEMP_VARIABLE, "").strip()
            or str(Path(tempfile.gettempdir()) / "flightpath-duckdb"),
            threads=int(threads) if threads else None,
        )

    def config(self) -> dict[str, ConfigValue]:
        """The `duckdb.connect(config=...)` entries."""
        config: dict[str, ConfigValue] = {
            "memory_limit": self.memory_limit,
            "temp_directory": self.temp_directory,
        }
        if self.threads is not None:
            config["threads"] = self.threads
        return config
