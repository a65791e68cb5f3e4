"""Metadata a person wants to see on every materialisation: rows, a preview, where it lives."""

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

PREVIEW_ROWS = 10


def table_metadata(frame: pd.DataFrame, path: Path) -> dict[str, Any]:
    return {
        "dagster/row_count": len(frame),
        "path": dg.MetadataValue.path(str(path)),
        "preview": dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False)),
    }
