"""The event feed: what becomes known, and when, in time order."""

from datetime import datetime, timedelta

import pandas as pd

from flightpath.lake import LakeFiles

# A weather row for hour H holds readings up to minute 51 of H: it becomes known at H + 1 h.
EVENTS_SQL = """
SELECT dep_utc AS occurred_at, 0 AS kind, origin, carrier, origin || '-' || dest AS route, tailnum,
       dep_delay AS delay, NULL::DOUBLE AS temp, NULL::DOUBLE AS dewp, NULL::DOUBLE AS humid,
       NULL::DOUBLE AS wind_speed, NULL::DOUBLE AS wind_gust, NULL::DOUBLE AS precip,
       NULL::DOUBLE AS pressure, NULL::DOUBLE AS visib
FROM {flights}
WHERE date BETWEEN $first_day AND $last_day AND dep_delay IS NOT NULL
  AND dep_utc >= $start AND dep_utc < $end
UNION ALL
SELECT arr_utc, 1, origin, carrier, origin || '-' || dest, tailnum, arr_delay,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM {flights}
WHERE date BETWEEN $first_day AND $last_day AND arr_delay IS NOT NULL
  AND arr_utc >= $start AND arr_utc < $end
UNION ALL
SELECT time_hour + INTERVAL 1 HOUR, 2, origin, NULL, NULL, NULL, NULL,
       temp, dewp, humid, wind_speed, wind_gust, precip, pressure, visib
FROM {weather}
WHERE date BETWEEN $first_day AND $last_day
  AND time_hour + INTERVAL 1 HOUR >= $start AND time_hour + INTERVAL 1 HOUR < $end
ORDER BY occurred_at, kind, origin, carrier, route, tailnum, delay
"""

DEPARTURE, ARRIVAL, WEATHER = 0, 1, 2


def events_between(lake: LakeFiles, start: datetime, end: datetime) -> pd.DataFrame:
    """Events with `start <= occurred_at < end`, oldest first (flights land up to 2 days later)."""
    sql = EVENTS_SQL.format(flights=lake.scan("flights"), weather=lake.scan("weather"))
    return lake.query(
        sql,
        {
            "start": start,
            "end": end,
            "first_day": (start - timedelta(days=2)).date(),
            "last_day": (end + timedelta(days=1)).date(),
        },
    )
