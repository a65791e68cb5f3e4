"""`model_evaluation`: the kit's evaluation and promotion gate over the flight delay candidates,
compared on the test window they were trained with, shown per carrier, origin and month."""

from typing import Any

import dagster as dg
import pandas as pd

from assets.kit.evaluation import EvaluationPlan, evaluation_asset
from assets.models.training import GROUP, delay_model_lgbm, delay_model_torch
from flightpath.models.features import LABEL
from flightpath.models.gate import BASELINE_GROUPS, SLICES, GateRules
from flightpath.models.registry import CHAMPION, ModelRegistry
from flightpath.models.splits import Split, local_days, split_frame
from resources.lake import Lake


def _candidate_split(registry: ModelRegistry, tags: list[str]) -> Split:
    """The split the candidates were trained on: they must share it to be compared."""
    described: dict[str, Any] = {tag: registry.get(tag).info.metadata["split"] for tag in tags}
    if len({str(d) for d in described.values()}) > 1:
        raise ValueError(f"candidates were trained on different splits: {described}")
    return Split.from_metadata(next(iter(described.values())))


def _parts(lake: Lake, registry: ModelRegistry, candidates: list[str]) -> dict[str, pd.DataFrame]:
    parts = split_frame(lake.read_table("training_set"), _candidate_split(registry, candidates))
    test = parts["test"]
    parts["test"] = test.assign(month=pd.to_datetime(local_days(test)).dt.month)
    return parts


def _describe(rows: pd.DataFrame) -> str:
    return (
        f"{rows['month'].min()}..{rows['month'].max()} (months), {len(rows)} flights, "
        f"{rows['label'].mean():.1%} delayed"
    )


model_evaluation = evaluation_asset(
    EvaluationPlan(
        key=dg.AssetKey("model_evaluation"),
        group=GROUP,
        # each candidate is registered under its asset's name
        candidates={m.key.path[-1]: m.key for m in (delay_model_lgbm, delay_model_torch)},
        candidate_prefix="delay_model_",
        champion_alias=CHAMPION,
        parts=_parts,
        entity="flight_id",
        label=LABEL,
        gate_slices=SLICES,
        shown_slices=(*SLICES, "month"),
        baseline_by=BASELINE_GROUPS,
        slice_min_rows=GateRules.slice_min_rows,
        shown_min_rows=200,
        scores_table="model_evaluation_scores",
        describe_test=_describe,
    )
)
