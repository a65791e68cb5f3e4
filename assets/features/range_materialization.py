"""What a run of `flight_features` over many days reports to Dagster.

Dagster 1.13 gives an asset run over a partition range one output, so one data version for
every day of it (`_get_output_asset_events` tags each partition's event alike); only metadata
can be scoped per partition. Each day therefore carries its own file's hash as metadata, and
the run's data version is the hash of those hashes: a change to any day's file changes it, as
a per-day build of that day would have. Lineage does not read these versions: the training set
hashes each feature file it read itself (`feature_partitions`).
"""

import hashlib
import statistics
from datetime import date, timedelta

import dagster as dg

from assets.features.range_build import TABLE, write_flight_features
from assets.metadata import file_version
from resources.lake import Lake

CONTENT_VERSION = "content_version"  # a day's file hash: what a one-day run's data version is


def materialize_range(
    context: dg.AssetExecutionContext, lake: Lake, first: date, last: date
) -> dg.MaterializeResult:
    rows = write_flight_features(lake, first, last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    versions: dict[date, str] = {}
    for day in days:
        if day in rows:
            path = lake.partition_path(TABLE, day)
            versions[day] = file_version(path).value
            scoped = {
                "dagster/row_count": rows[day],
                "path": dg.MetadataValue.path(str(path)),
                CONTENT_VERSION: versions[day],
            }
        else:
            scoped = {"dagster/row_count": 0}
        context.add_asset_metadata(scoped, partition_key=day.isoformat())
    # Of the days written; each day's event carries its own `dagster/row_count`.
    counts = list(rows.values()) or [0]
    summary = {"min": min(counts), "median": statistics.median(counts), "max": max(counts),
               "total": sum(counts)}  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "range": f"{first} .. {last}",
            "days_written": len(rows),
            "days_without_flights": dg.MetadataValue.json(
                [day.isoformat() for day in days if day not in rows]
            ),
            "rows_per_day": dg.MetadataValue.json(summary),
        },
        data_version=dg.DataVersion(
            hashlib.sha256("".join(versions.values()).encode()).hexdigest()[:16]
        ),
    )
