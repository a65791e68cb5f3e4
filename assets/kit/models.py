"""The candidates → their evaluation against the champion and a naive baseline, with the
blocking promotion gate → the use case's champion alias."""

from dataclasses import asdict
from typing import Any

import dagster as dg
import pandas as pd

from assets.kit import evaluation as kit_evaluation
from assets.kit.candidates import candidate_asset, candidate_parts
from flightpath.models.registry import ModelRegistry
from flightpath.models.splits import Split, local_days
from flightpath.usecase import MODEL_KINDS, TRAINING_TIME, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource


def candidates_split(registry: ModelRegistry, tags: list[str]) -> Split | None:
    """The dated split the candidates were trained on (None: the holdout's); they must share
    it to be compared."""
    described: dict[str, Any] = {tag: registry.get(tag).info.metadata["split"] for tag in tags}
    if len({str(d) for d in described.values()}) > 1:
        raise ValueError(f"candidates were trained on different splits: {described}")
    recorded = next(iter(described.values()))
    return None if "holdout" in recorded else Split.from_metadata(recorded)


def evaluation_asset(usecase: UseCase, group: str | None = None) -> dg.AssetsDefinition:
    # A time-split use case's test rows are also shown per month of their instants.
    by_month = ("month",) if usecase.event_time else ()

    def parts(lake: Lake, registry: ModelRegistry, tags: list[str]) -> dict[str, pd.DataFrame]:
        frame = lake.read_table(usecase.table("training_set"))
        split = candidates_split(registry, tags)
        found = candidate_parts(usecase, frame, split)
        if by_month:
            days = local_days(found["test"], TRAINING_TIME, usecase.zone)
            found["test"] = found["test"].assign(month=pd.to_datetime(days).dt.month)
        return found

    def describe(rows: pd.DataFrame) -> str:
        months = f"{rows['month'].min()}..{rows['month'].max()} (months), " if by_month else ""
        return f"{months}{len(rows)} {usecase.unit}, {rows['label'].mean():.1%} {usecase.label}"

    return kit_evaluation.evaluation_asset(
        kit_evaluation.EvaluationPlan(
            key=dg.AssetKey(usecase.key("evaluation")),
            group=group or usecase.group,
            candidates={
                usecase.model_name(kind): dg.AssetKey(usecase.key(f"model_{kind}"))
                for kind in MODEL_KINDS
            },
            candidate_prefix=usecase.model_prefix,
            champion_alias=usecase.champion_alias,
            parts=parts,
            entity=usecase.entity,
            label=usecase.label,
            gate_slices=usecase.slices,
            shown_slices=(*usecase.slices, *by_month),
            baseline_by=usecase.baseline_by,
            slice_min_rows=usecase.slice_min_rows,
            shown_min_rows=usecase.shown_min_rows or usecase.slice_min_rows,
            scores_table=usecase.table("evaluation_scores"),
            describe_test=describe,
        )
    )


def promotion_asset(
    key: dg.AssetKey, evaluation: dg.AssetKey, group: str, aliases: tuple[str, str], rollback: str
) -> dg.AssetsDefinition:
    """The asset that moves the champion alias (`aliases`: champion, challenger) to the winner
    of the gate recorded by `evaluation`, and the challenger alias to the best other candidate;
    `rollback` is the command that undoes it."""
    champion_alias, challenger_alias = aliases

    @dg.asset(
        key=key,
        deps=[evaluation],
        group_name=group,
        description=f"Points `{champion_alias}` at the candidate that passed the promotion gate, "
        f"and `{challenger_alias}` at the best other candidate (the service shadows it). Runs "
        f"only when the gate passes, and only to models whose files verify; `{rollback}` "
        "undoes it.",
        kinds={"bentoml"},
    )
    def promotion(
        context: dg.AssetExecutionContext, model_registry: ModelRegistryResource
    ) -> dg.MaterializeResult:
        event = context.instance.get_latest_materialization_event(evaluation)
        if event is None or event.asset_materialization is None:
            raise ValueError(f"{evaluation.to_user_string()} has not been materialised")
        decision = event.asset_materialization.metadata["decision"].value
        winner = decision["winner"]
        if winner is None:  # the blocking check stops this in a run; direct calls must not either
            raise ValueError(f"the gate promoted nothing: {decision}")
        registry, run_id = model_registry.registry(), context.run.run_id
        verdict = next(v for v in decision["verdicts"] if v["candidate"] == winner)
        reason = (
            f"gate passed in run {run_id}: ROC-AUC {verdict['gain']:+.4f} over "
            f"{verdict['reference']} (interval {verdict['low']:+.4f} .. {verdict['high']:+.4f})"
        )
        actor = f"dagster run {run_id}"
        # promote() refuses a model whose files do not verify
        change = registry.promote(winner, reason, champion_alias, actor=actor)
        others = [tag for tag in decision["candidates"] if tag != winner]
        if others:  # the service shadows it: its answers are logged, never returned
            registry.promote(others[0], f"other candidate of run {run_id}", challenger_alias,
                             actor=actor)  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                "champion": winner,
                "previous": change.previous or "none",
                "challenger": registry.alias(challenger_alias) or "none",
                "reason": reason,
                "promotion": dg.MetadataValue.json(asdict(change)),  # the audit log's entry
            },
            data_version=dg.DataVersion(winner),
        )

    return promotion


def champion_asset(usecase: UseCase, group: str | None = None) -> dg.AssetsDefinition:
    return promotion_asset(
        dg.AssetKey(usecase.key("champion")),
        dg.AssetKey(usecase.key("evaluation")),
        group or usecase.group,
        (usecase.champion_alias, usecase.challenger_alias),
        usecase.rollback,
    )


def model_assets(usecase: UseCase, group: str | None = None) -> list[dg.AssetsDefinition]:
    """The candidates, their evaluation with the gate, the champion; in the use case's group
    unless the code location places them in another."""
    return [
        *(candidate_asset(usecase, kind, group) for kind in MODEL_KINDS),
        evaluation_asset(usecase, group),
        champion_asset(usecase, group),
    ]
