"""Reading and writing single Parquet files safely: atomic writes, specific read errors."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

PARQUET_MAGIC = b"PAR1"


class UnreadableFileError(ValueError):
    """A file that cannot be read as Parquet; the message says why and which file."""


def _to_parquet(frame: pd.DataFrame, target: str | io.BytesIO) -> None:
    # Microsecond timestamps: what DuckDB, Feast and most readers call a plain TIMESTAMP.
    frame.to_parquet(target, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)


def write_atomically(frame: pd.DataFrame, path: Path | UPath) -> None:
    """Write `frame` to `path` so readers see the old file or the new one, never half of one."""
    if not isinstance(path, Path):
        # An object store: the whole object in one PUT, which S3 makes visible all at once.
        # Serialised first, so a failure while writing the Parquet sends nothing.
        buffer = io.BytesIO()
        _to_parquet(frame, buffer)
        path.fs.pipe_file(path.path, buffer.getvalue())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _to_parquet(frame, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_parquet_file(path: Path | UPath) -> pd.DataFrame:
    """Read one Parquet file, turning every way it can be broken into an `UnreadableFileError`."""
    if not path.exists():
        raise UnreadableFileError(f"{path}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFileError(f"{path}: file is empty (0 bytes)")
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if head != PARQUET_MAGIC:
        raise UnreadableFileError(
            f"{path}: not a Parquet file (starts with {head!r}; CSV or another format?)"
        )
    if tail != PARQUET_MAGIC:
        raise UnreadableFileError(f"{path}: truncated Parquet file (footer missing, {size} bytes)")
    try:
        table = (
            pq.read_table(path)
            if isinstance(path, Path)
            else pq.read_table(path.path, filesystem=path.fs)
        )
    except (pa.ArrowException, OSError) as error:
        raise UnreadableFileError(f"{path}: corrupt Parquet file: {error}") from error
    return table.to_pandas()
