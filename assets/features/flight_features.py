"""The flight_features asset: one row per flight, every feature as known before departure."""

from datetime import date

import dagster as dg

from assets import groups
from assets.automation import after_upstream_days
from assets.features.build import build_flight_features
from assets.features.range_materialization import materialize_range
from assets.metadata import materialized
from assets.partitions import daily_partitions, partition_day
from flightpath.entity_views import HISTORY_DAYS
from resources.lake import Lake

GROUP = groups.FEATURES


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    # A backfill of many days is one run: one DuckDB query reads the shared history once
    # (assets/features/range_build.py) instead of 32 days per day. The sensors and the
    # automation still request one day per run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(
            "flights",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-HISTORY_DAYS),
        ),
        dg.AssetDep("weather", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1)),
        "raw_planes",
    ],
    description=(
        "Point-in-time features of the day's flights (DuckDB over the lake): origin congestion, "
        "carrier/route delay history, the aircraft's previous leg, origin weather, plane and "
        "schedule attributes. Only what was known strictly before scheduled departure. A "
        "backfill of many days runs once, DuckDB writing every day's file."
    ),
    kinds={"duckdb", "parquet"},
    automation_condition=after_upstream_days("raw_planes"),
)
def flight_features(context: dg.AssetExecutionContext, lake: Lake) -> dg.MaterializeResult:
    days = context.partition_key_range
    if days.start != days.end:
        first, last = date.fromisoformat(days.start), date.fromisoformat(days.end)
        return materialize_range(context, lake, first, last)
    day = partition_day(context)
    features = build_flight_features(lake, day, day)
    path = lake.write_partition("flight_features", day, features)
    coverage = features.notna().mean().round(3)
    return materialized(
        features,
        path,
        metadata={
            "feature_coverage": dg.MetadataValue.json(coverage.to_dict()),
            "flights_without_previous_leg": int(features["tail_prev_arr_delay"].isna().sum()),
        },
    )
