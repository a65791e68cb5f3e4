"""What every materialisation reports: rows, a preview, where it lives, and a data version."""

import hashlib
import math
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from upath import UPath

PREVIEW_ROWS = 10


def file_version(path: Path | UPath) -> dg.DataVersion:
    """The written file's content hash: the same rows written again give the same version."""
    return dg.DataVersion(hashlib.sha256(path.read_bytes()).hexdigest()[:16])


def materialized(
    frame: pd.DataFrame,
    path: Path | UPath,
    *,
    asset_key: dg.AssetKey | None = None,
    metadata: dict[str, Any] | None = None,
    check_results: list[dg.AssetCheckResult] | None = None,
) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=asset_key,
        metadata={
            "dagster/row_count": len(frame),
            "path": dg.MetadataValue.path(str(path)),
            "preview": dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False)),
            **(metadata or {}),
        },
        data_version=file_version(path),
        check_results=check_results,
    )


def table(frame: pd.DataFrame, digits: int = 4) -> dg.TableMetadataValue:
    """A frame as table metadata: the UI draws it in place, columns sized to their values
    (markdown over 1000 characters hides behind a click, and a wide one is clipped)."""
    columns = [
        dg.TableColumn(str(name), "float" if pd.api.types.is_float_dtype(dtype) else
                       "int" if pd.api.types.is_integer_dtype(dtype) else "string")
        for name, dtype in frame.dtypes.items()
    ]  # fmt: skip
    records = [
        dg.TableRecord({str(name): _cell(value, digits) for name, value in row.items()})
        for row in frame.to_dict(orient="records")
    ]
    return dg.MetadataValue.table(records, dg.TableSchema(columns=columns))


def _cell(value: Any, digits: int) -> str | int | float | bool | None:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    if isinstance(value, int | bool | str) or value is None:
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return _cell(value.item(), digits)
    return str(value)
