"""Building flight_features with one DuckDB query over the lake (see flight_features.sql)."""

from datetime import date
from pathlib import Path

import pandas as pd

from resources.lake import Lake

FLIGHT_FEATURES_SQL = (Path(__file__).parent / "flight_features.sql").read_text()


def build_flight_features(lake: Lake, start: date, end: date) -> pd.DataFrame:
    """Features of every flight scheduled on local days `start`..`end`, as of its departure."""
    sql = FLIGHT_FEATURES_SQL.format(
        flights=lake.scan("flights"),
        weather=lake.scan("weather"),
        planes=f"read_parquet('{lake.table_path('raw_planes')}')",
    )
    return lake.query(sql, {"start": start, "end": end})
