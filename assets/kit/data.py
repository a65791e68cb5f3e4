"""Raw → validated: the source landed as it arrives, then typed, checked and split into valid
and quarantined rows, with one Dagster asset check per data-quality rule."""

from collections.abc import Iterator

import dagster as dg

from assets.kit.quality import RULES, usecase_suite
from assets.metadata import materialized
from assets.quality.gx_bridge import check_results, check_specs
from assets.quality.verdict import judge_table
from flightpath.quality.contracts import SOURCE_FILE, SOURCE_ROW
from flightpath.usecase import UseCase
from resources.lake import Lake


def data_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    raw_key, valid_key, quarantine_key = (
        dg.AssetKey([usecase.name, stage]) for stage in ("raw", "validated", "quarantine")
    )

    @dg.asset(
        key=raw_key,
        group_name=usecase.group,
        description=f"The {usecase.source} table as it arrives, untyped, with its lineage.",
        kinds={"parquet"},
    )
    def raw(lake: Lake) -> dg.MaterializeResult:
        frame = usecase.load().astype(object)
        frame[SOURCE_FILE] = usecase.source
        frame[SOURCE_ROW] = range(len(frame))
        # As text: the lake keeps what arrived, and typing it is validation's job.
        landed = frame.astype("string")
        return materialized(landed, lake.write_table(usecase.table("raw"), landed))

    @dg.multi_asset(
        name=f"{usecase.name}_validate",
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
        check_specs=check_specs(valid_key, RULES, None),
    )
    def validate(lake: Lake) -> Iterator[object]:
        landed = lake.read_table(usecase.table("raw"))
        verdict = judge_table(
            landed, usecase.contract, lambda frame: frame, usecase_suite(usecase), RULES, []
        )
        verdict.raise_if_blocked(str(lake.table_path(usecase.table("raw"))))
        valid_path = lake.write_table(usecase.table("validated"), verdict.valid)
        quarantine_path = lake.write_table(usecase.table("quarantine"), verdict.quarantine)
        yield materialized(verdict.valid, valid_path, asset_key=valid_key)
        yield materialized(verdict.quarantine, quarantine_path, asset_key=quarantine_key)
        yield from check_results(valid_key, verdict.outcomes, verdict.row_count, usecase.source)

    return [raw, validate]
