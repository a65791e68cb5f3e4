"""Jobs: what the sensor and the CLI launch."""

import dagster as dg

from assets.partitions import daily_partitions

reference_job = dg.define_asset_job(
    "reference_ingest",
    selection=dg.AssetSelection.assets("raw_planes", "raw_airports", "raw_airlines", "airports"),
    description="Land the reference tables (planes, airports, airlines) in the lake.",
)

DAILY_ASSETS = {
    "flights": ("raw_flights", "flights", "quarantine_flights"),
    "weather": ("raw_weather", "weather", "quarantine_weather"),
}

daily_ingest_job = dg.define_asset_job(
    "daily_ingest",
    selection=dg.AssetSelection.assets(*(key for keys in DAILY_ASSETS.values() for key in keys)),
    partitions_def=daily_partitions,
    description="Ingest and validate one landed day of flights and weather.",
)
