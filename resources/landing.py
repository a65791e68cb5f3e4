"""The landing zone: where the feed drops one Parquet file per table per day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from resources.parquet_files import UnreadableFileError, read_parquet_file, write_atomically

DAILY_TABLES = ("flights", "weather")
REFERENCE_TABLES = ("planes", "airports", "airlines")
CLOCK_FILE = "clock.json"  # the instant the streamed feed has delivered events up to


class LandingFileError(ValueError):
    """A landed file that cannot be ingested; the message names the file and the problem."""


@dataclass(frozen=True)
class LandedFile:
    table: str
    day: date
    path: Path
    mtime_ns: int


class LandingZone(dg.ConfigurableResource):
    """Files as a feed delivers them: `<table>/<YYYY-MM-DD>.parquet`, `reference/<name>.parquet`."""

    root: str

    def day_path(self, table: str, day: date) -> Path:
        return Path(self.root) / table / f"{day.isoformat()}.parquet"

    def reference_path(self, name: str) -> Path:
        return Path(self.root) / "reference" / f"{name}.parquet"

    def land_day(self, table: str, day: date, frame: pd.DataFrame) -> None:
        write_atomically(frame, self.day_path(table, day))

    def land_reference(self, name: str, frame: pd.DataFrame) -> None:
        write_atomically(frame, self.reference_path(name))

    def write_clock(self, through: datetime) -> None:
        """Record that the feed has delivered every event before `through` (streaming replay)."""
        path = Path(self.root) / CLOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"through": through.isoformat()}))
        tmp.replace(path)

    def clock(self) -> datetime | None:
        path = Path(self.root) / CLOCK_FILE
        if not path.exists():
            return None
        return datetime.fromisoformat(json.loads(path.read_text())["through"])

    def read_day(self, table: str, day: date) -> pd.DataFrame:
        path = self.day_path(table, day)
        if not path.exists():
            others = sorted(p.name for p in path.parent.glob(f"{day.isoformat()}.*"))
            if others:
                raise LandingFileError(
                    f"{path} is missing but {', '.join(others)} landed: only Parquet is accepted"
                )
            raise LandingFileError(f"{path}: nothing has landed for {table} on {day}")
        return self._read(path)

    def read_reference(self, name: str) -> pd.DataFrame:
        return self._read(self.reference_path(name))

    def landed_days(self, table: str) -> list[LandedFile]:
        """Every daily file of `table`, oldest day first; writers' temp files are skipped."""
        files = []
        for path in sorted((Path(self.root) / table).glob("*.parquet")):
            try:
                day = date.fromisoformat(path.stem)
            except ValueError:
                continue  # not a day file; a person will see it in the folder, not in the graph
            files.append(LandedFile(table, day, path, path.stat().st_mtime_ns))
        return files

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        try:
            return read_parquet_file(path)
        except UnreadableFileError as error:
            raise LandingFileError(
                f"{error}. The file stays in the landing zone: re-land it and re-run the partition."
            ) from error
