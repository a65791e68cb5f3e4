"""Validation: each raw partition split into typed, deduplicated rows and quarantined rows."""

from collections.abc import Callable, Iterator
from datetime import date

import dagster as dg
import pandas as pd

from assets import groups
from assets.ingestion import judge_landed_flights, judge_landed_weather
from assets.metadata import materialized
from assets.partitions import daily_partitions, partition_day
from assets.quality.verdict import Verdict
from flightpath.quality.contracts import FLIGHTS, SOURCE_FILE, WEATHER, Contract
from resources.lake import Lake

GROUP = groups.VALIDATION
MAX_QUARANTINE_SHARE = 0.05  # more than this in one day points at the feed, not at a few bad rows


def validated_asset(
    contract: Contract, judge: Callable[[pd.DataFrame, date, Lake], Verdict], references: list[str]
) -> dg.AssetsDefinition:
    table = contract.table
    valid_key, quarantine_key = dg.AssetKey(table), dg.AssetKey(f"quarantine_{table}")

    @dg.multi_asset(
        name=f"validate_{table}",
        partitions_def=daily_partitions,
        specs=[
            dg.AssetSpec(
                valid_key,
                group_name=GROUP,
                deps=[f"raw_{table}", *references],
                description=f"Valid `{table}` rows: typed, deduplicated, times in UTC.",
                kinds={"parquet"},
            ),
            dg.AssetSpec(
                quarantine_key,
                group_name=GROUP,
                deps=[f"raw_{table}"],
                description=f"Rejected `{table}` rows: the rules they broke and the row as landed.",
                kinds={"parquet"},
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                "key_unique",
                asset=valid_key,
                blocking=True,
                description=f"{' + '.join(contract.key)} is unique in the written partition",
                partitions_def=daily_partitions,
            ),
            # Blocking: a day with this many bad rows points at the feed, and the rows that
            # survived are not a fair sample of the day for the features downstream.
            dg.AssetCheckSpec(
                "quarantine_share",
                asset=valid_key,
                blocking=True,
                description=f"at most {MAX_QUARANTINE_SHARE:.0%} of the day's rows quarantined",
                partitions_def=daily_partitions,
            ),
        ],
    )
    def _validate(context: dg.AssetExecutionContext, lake: Lake) -> Iterator[object]:
        day = partition_day(context)
        raw = lake.read_partition(f"raw_{table}", day)
        verdict = judge(raw, day, lake)
        verdict.raise_if_blocked(str(lake.partition_path(f"raw_{table}", day)))
        named = {"source_file": _source_file(raw), "columns": ", ".join(contract.key)}
        valid_path = lake.write_partition(table, day, verdict.valid)
        quarantine_path = lake.write_partition(f"quarantine_{table}", day, verdict.quarantine)

        yield materialized(verdict.valid, valid_path, asset_key=valid_key)
        by_rule = verdict.quarantine["rules"].str.split(",").explode().value_counts()
        yield materialized(
            verdict.quarantine,
            quarantine_path,
            asset_key=quarantine_key,
            metadata={"rows_by_rule": dg.MetadataValue.json(by_rule.to_dict())},
        )

        key = ", ".join(contract.key)
        duplicates = int(
            lake.query(f"SELECT count(*) - count(DISTINCT ({key})) AS n FROM '{valid_path}'")["n"][
                0
            ]
        )
        yield dg.AssetCheckResult(
            asset_key=valid_key,
            check_name="key_unique",
            passed=duplicates == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"duplicate_keys": duplicates, **named},
        )
        share = len(verdict.quarantine) / verdict.row_count if verdict.row_count else 0.0
        yield dg.AssetCheckResult(
            asset_key=valid_key,
            check_name="quarantine_share",
            passed=share <= MAX_QUARANTINE_SHARE,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "quarantined_rows": len(verdict.quarantine),
                "share": share,
                "rows_by_rule": dg.MetadataValue.json(by_rule.to_dict()),
                **named,
            },
        )

    return _validate


def _source_file(raw: pd.DataFrame) -> str:
    """The landed file a raw partition was copied from (every row carries it)."""
    return str(raw[SOURCE_FILE].iloc[0]) if len(raw) else ""


validate_flights = validated_asset(FLIGHTS, judge_landed_flights, ["raw_airlines", "airports"])
validate_weather = validated_asset(WEATHER, judge_landed_weather, [])
