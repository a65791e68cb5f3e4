"""The landing zone: where the feed drops one Parquet file per table per day."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from flightpath.parquet_files import UnreadableFileError, read_parquet_file, write_atomically

DAILY_TABLES = ("flights", "weather")  # a day is complete only when each of these landed
REFERENCE_TABLES = ("planes", "airports", "airlines")
CLOCK_FILE = "clock.json"  # the instant the streamed feed has delivered events up to
# Names writers give a file while it is still being written (rsync, curl, browsers, our own).
WRITER_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".inprogress")


class LandingFileError(ValueError):
    """A landed file that cannot be ingested; the message names the file and the problem."""


@dataclass(frozen=True)
class LandedFile:
    table: str
    day: date
    path: Path
    mtime_ns: int


class LandingFiles:
    """Files as a feed delivers them: `<table>/<YYYY-MM-DD>.parquet`, `reference/<name>.parquet`.

    The assets and sensors use it as the Dagster resource `resources.landing.LandingZone`.
    """

    root: str

    def __init__(self, root: str) -> None:
        self.root = root

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
        if not path.exists() and not path.is_symlink():
            others = sorted(p.name for p in self._delivered(table) if _day_of(p) == day)
            if others:
                raise LandingFileError(
                    f"{path} is missing but {', '.join(others)} landed: only Parquet is accepted"
                )
            raise LandingFileError(f"{path}: nothing has landed for {table} on {day}")
        return self._read(path)

    def read_reference(self, name: str) -> pd.DataFrame:
        return self._read(self.reference_path(name))

    def landed_days(self, table: str) -> list[LandedFile]:
        """Every file delivered for a day of `table` (Parquet or not), oldest day first.

        Files still being written are skipped; one in another format is listed, so that its day
        is run and fails naming it rather than passing without the table.
        """
        files = []
        for path in self._delivered(table):
            day = _day_of(path)
            if day is not None:  # anything else is not a day file: a person sees it in the folder
                # lstat: a symbolic link is listed (and refused when read), even when dangling.
                files.append(LandedFile(table, day, path, path.lstat().st_mtime_ns))
        return sorted(files, key=lambda landed: (landed.day, landed.path.name))

    def _delivered(self, table: str) -> list[Path]:
        folder = Path(self.root) / table
        if not folder.is_dir():
            return []
        return [
            path
            for path in folder.iterdir()
            if not path.name.startswith((".", "~")) and not path.name.endswith(WRITER_TEMP_SUFFIXES)
        ]

    def _read(self, path: Path) -> pd.DataFrame:
        self._refuse_outside(path)
        try:
            return read_parquet_file(path)
        except UnreadableFileError as error:
            raise LandingFileError(
                f"{error}. The file stays in the landing zone: re-land it and re-run the partition."
            ) from error

    def _refuse_outside(self, path: Path) -> None:
        """Only files delivered into the zone are read: a link could point at anything."""
        if path.is_symlink():
            raise LandingFileError(
                f"{path} is a symbolic link (to {os.readlink(path)}): the landing zone accepts "
                "only files delivered into it. Replace it with the file itself."
            )
        if not path.resolve().is_relative_to(Path(self.root).resolve()):
            raise LandingFileError(
                f"{path} resolves to {path.resolve()}, outside the landing zone {self.root}"
            )


def _day_of(path: Path) -> date | None:
    """The day a file such as `2013-01-05.parquet` (or `2013-01-05.csv`) was delivered for."""
    try:
        return date.fromisoformat(path.name.split(".", 1)[0])
    except ValueError:
        return None
