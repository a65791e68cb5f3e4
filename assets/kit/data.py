"""Raw → validated: the source landed as it arrives, then typed, checked and split into valid
and quarantined rows, with one Dagster asset check per data-quality rule.

A snapshot lands whole; a daily feed lands a day per partition, each judged alone with its own
checks, so one bad day fails alone and names itself."""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd
from upath import UPath

from assets.kit.quality import rules, usecase_suite
from assets.metadata import materialized
from assets.quality.gx_bridge import check_results, check_specs
from assets.quality.suites import day_columns
from assets.quality.verdict import Verdict, judge_files
from flightpath.quality.contracts import SOURCE_FILE, SOURCE_ROW
from flightpath.usecase import UseCase
from resources.lake import Lake


def partitions(usecase: UseCase) -> dg.DailyPartitionsDefinition | None:
    """The feed's days, in its own time zone; None for a snapshot."""
    if usecase.daily is None:
        return None
    return dg.DailyPartitionsDefinition(
        start_date=usecase.daily.first_day.isoformat(), timezone=usecase.daily.zone
    )


def validated_rows(usecase: UseCase, lake: Lake, day: date | None = None) -> str:
    """A DuckDB table expression of the validated rows: the snapshot's table, a feed's `day`,
    or every day of the feed (`day` None)."""
    table = usecase.table("validated")
    if usecase.daily is None:
        return f"read_parquet('{lake.table_path(table)}')"
    if day is not None:
        return f"read_parquet('{lake.partition_path(table, day)}')"
    return lake.scan(table)


def partition_day(context: dg.AssetExecutionContext) -> date | None:
    """The day a feed's run is for; None for a snapshot's."""
    return date.fromisoformat(context.partition_key) if context.has_partition_key else None


def _path(lake: Lake, table: str, day: date | None) -> UPath:
    return lake.table_path(table) if day is None else lake.partition_path(table, day)


def write_rows(lake: Lake, table: str, day: date | None, frame: pd.DataFrame) -> UPath:
    """A snapshot's stage as its table, a feed's as the day's partition."""
    return (
        lake.write_table(table, frame) if day is None else lake.write_partition(table, day, frame)
    )


def read_rows(lake: Lake, table: str, day: date | None) -> pd.DataFrame:
    """What `write_rows` wrote."""
    return lake.read_table(table) if day is None else lake.read_partition(table, day)


def _landed(usecase: UseCase, day: date | None) -> pd.DataFrame:
    """What arrived: the snapshot, or the feed's day."""
    if day is None:
        assert usecase.load is not None  # a use case has one of the two (UseCase checks)
        return usecase.load()
    assert usecase.daily is not None and usecase.daily.load_day is not None  # data_assets checks
    return usecase.daily.load_day(day)


def _source(usecase: UseCase, day: date | None) -> str:
    """The source as lineage and the checks name it."""
    return usecase.source if day is None else f"{usecase.source} {day}"


def _judge(usecase: UseCase, landed: pd.DataFrame, day: date | None) -> Verdict:
    """The rows' verdict; a feed's rows are each compared with their file's day too."""

    def on_day(frame: pd.DataFrame, key: date | None) -> pd.DataFrame:
        assert usecase.daily is not None and usecase.event_time is not None and key is not None
        return day_columns(frame, key, usecase.event_time, usecase.daily.zone)

    helpers = on_day if usecase.daily is not None else None
    suite = usecase_suite(usecase)
    return judge_files(
        {day: landed}, usecase.contract, lambda frame: frame, suite, rules(usecase), [], helpers
    )[day]


def data_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    if usecase.daily is not None and usecase.daily.load_day is None:
        raise ValueError(f"{usecase.name} lands its days itself: the kit builds no data stage")
    raw_key, valid_key, quarantine_key = (
        dg.AssetKey(usecase.key(stage)) for stage in ("raw", "validated", "quarantine")
    )
    days = partitions(usecase)

    @dg.asset(
        key=raw_key,
        group_name=usecase.group,
        partitions_def=days,
        description=f"The {usecase.source} table as it arrives, untyped, with its lineage.",
        kinds={"parquet"},
    )
    def raw(context: dg.AssetExecutionContext, lake: Lake) -> dg.MaterializeResult:
        day = partition_day(context)
        frame = _landed(usecase, day).astype(object)
        frame[SOURCE_FILE] = _source(usecase, day)
        frame[SOURCE_ROW] = range(len(frame))
        # As text: the lake keeps what arrived, and typing it is validation's job.
        landed = frame.astype("string")
        return materialized(landed, write_rows(lake, usecase.table("raw"), day, landed))

    @dg.multi_asset(
        name=f"{usecase.name}_validate",
        partitions_def=days,
        specs=[
            dg.AssetSpec(
                valid_key,
                group_name=usecase.group,
                deps=[raw_key],
                description="Typed, deduplicated rows that pass every rule.",
                kinds={"parquet", "great_expectations"},
            ),
            dg.AssetSpec(
                quarantine_key,
                group_name=usecase.group,
                deps=[raw_key],
                description="Rejected rows: the rules they broke and the row as landed.",
                kinds={"parquet"},
            ),
        ],
        check_specs=check_specs(valid_key, rules(usecase), days),
    )
    def validate(context: dg.AssetExecutionContext, lake: Lake) -> Iterator[object]:
        day = partition_day(context)
        verdict = _judge(usecase, read_rows(lake, usecase.table("raw"), day), day)
        verdict.raise_if_blocked(str(_path(lake, usecase.table("raw"), day)))
        valid_path = write_rows(lake, usecase.table("validated"), day, verdict.valid)
        quarantine_path = write_rows(lake, usecase.table("quarantine"), day, verdict.quarantine)
        yield materialized(verdict.valid, valid_path, asset_key=valid_key)
        yield materialized(verdict.quarantine, quarantine_path, asset_key=quarantine_key)
        source = _source(usecase, day)
        yield from check_results(valid_key, verdict.outcomes, verdict.row_count, source)

    return [raw, validate]
