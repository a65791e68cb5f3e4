"""Building features with one DuckDB query over the lake (see flight_features.sql)."""

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from flightpath.models.features import LATE_MINUTES
from resources.lake import Lake

FLIGHT_FEATURES_SQL = (Path(__file__).parent / "flight_features.sql").read_text()
DAY_FLIGHTS = "(SELECT * FROM history WHERE date BETWEEN $start AND $end)"

# Probes: one per combination of keys flown in the last 30 days, at the snapshot instant, with
# no departure or arrival of their own. Each probe reads every window as of that instant.
PROBES = """(
    SELECT
        $start::DATE AS date, 'probe-' || row_number() OVER () AS flight_id,
        $as_of::TIMESTAMPTZ AS sched_dep_utc,
        carrier, NULL::BIGINT AS flight, tailnum, origin, dest, NULL::DOUBLE AS distance,
        NULL::TIMESTAMPTZ AS dep_utc, NULL::DOUBLE AS dep_delay,
        NULL::TIMESTAMPTZ AS arr_utc, NULL::DOUBLE AS arr_delay
    FROM (
        SELECT DISTINCT carrier, tailnum, origin, dest FROM history
        WHERE sched_dep_utc >= $as_of::TIMESTAMPTZ - INTERVAL 30 DAY
          AND sched_dep_utc < $as_of::TIMESTAMPTZ
    )
)"""


def dated_sql(lake: Lake, targets: str) -> str:
    """The features of `targets` with their partition day (`date`), in no particular order."""
    return FLIGHT_FEATURES_SQL.format(
        flights=lake.scan("flights"),
        weather=lake.scan("weather"),
        planes=f"read_parquet('{lake.table_path('raw_planes')}')",
        targets=targets,
        late_minutes=LATE_MINUTES,
    )


def _features(lake: Lake, targets: str, parameters: dict[str, object]) -> pd.DataFrame:
    # A partition holds its day implicitly (the folder name): no `date` column in the rows.
    sql = dated_sql(lake, targets)
    return lake.query(
        f"SELECT * EXCLUDE (date) FROM ({sql}) ORDER BY sched_dep_utc, flight_id", parameters
    )


def build_flight_features(lake: Lake, start: date, end: date) -> pd.DataFrame:
    """Features of every flight scheduled on local days `start`..`end`, as of its departure."""
    return _features(lake, DAY_FLIGHTS, {"start": start, "end": end})


def build_snapshot(lake: Lake, as_of: datetime) -> pd.DataFrame:
    """Every window evaluated at `as_of`, for each key combination flown in the last 30 days."""
    day = as_of.date()
    return _features(lake, PROBES, {"start": day, "end": day, "as_of": as_of})
