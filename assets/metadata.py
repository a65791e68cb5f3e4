"""What every materialisation reports: rows, a preview, where it lives, and a data version."""

import hashlib
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
