"""Training set → the two candidates → their evaluation against the champion and a naive
baseline, with the blocking promotion gate → the use case's champion alias."""

from dataclasses import asdict

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from assets.kit import evaluation as kit_evaluation
from assets.kit.lineage import ROOT, code_version, training_set_lineage
from assets.kit.registration import register
from assets.kit.training import Recipe, train_candidate
from flightpath.monitoring.profile import SCORE, ReferenceProfile, reference_profile
from flightpath.usecase import MODEL_KINDS, TRAINING_TIME, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

# The code a use case's model is made by (its definition is in the git commit code_version adds).
KIT_CODE = [ROOT / "flightpath" / "models", ROOT / "assets" / "kit", ROOT / "feature_repo"]
# A time-split model's last training instant, and its training set's last instant (metadata).
TRAINED_THROUGH, DATA_THROUGH = "trained_through", "data_through"


def holdout_parts(usecase: UseCase, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The training set's rows by window (train, valid, test), as the use case's holdout says."""
    window = usecase.windows(frame)
    return {
        name: frame[window == name].reset_index(drop=True) for name in ("train", "valid", "test")
    }


def time_split_bounds(usecase: UseCase, parts: dict[str, pd.DataFrame]) -> dict[str, str]:
    """A time split's last training instant and its data's last instant, as the registry's
    metadata keeps them; nothing for a snapshot (its held-out rows are known by key)."""
    if usecase.event_time is None or parts["train"].empty:
        return {}
    last = max(part[TRAINING_TIME].max() for part in parts.values() if len(part))
    return {
        TRAINED_THROUGH: pd.Timestamp(parts["train"][TRAINING_TIME].max()).isoformat(),
        DATA_THROUGH: pd.Timestamp(last).isoformat(),
    }


def recipe(usecase: UseCase) -> Recipe:
    return Recipe(usecase.label, usecase.features, usecase.categorical, usecase.lgbm_params,
                  usecase.increasing, usecase.mlp_settings)  # fmt: skip


def candidate_asset(usecase: UseCase, kind: str) -> dg.AssetsDefinition:
    framework = {"lgbm": "lightgbm", "torch": "torch"}[kind]

    @dg.asset(
        key=[usecase.name, f"model_{kind}"],
        deps=[dg.AssetKey([usecase.name, "training_set"])],
        group_name=usecase.group,
        description=f"A {framework} candidate for {usecase.title}, saved with its drift profile.",
        kinds={framework, "bentoml"},
    )
    def candidate(
        context: dg.AssetExecutionContext, lake: Lake, model_registry: ModelRegistryResource
    ) -> dg.MaterializeResult:
        parts = holdout_parts(usecase, lake.read_table(usecase.table("training_set")))
        trained = train_candidate(usecase.model_name(kind), kind, recipe(usecase), parts)

        def profile_of(test_scores: np.ndarray) -> ReferenceProfile:
            with duckdb.connect() as connection:
                connection.register("train_rows", parts["train"])
                connection.register("test_scores", pd.DataFrame({SCORE: test_scores}))
                return reference_profile(
                    connection, "train_rows", list(usecase.numeric), list(usecase.categorical)
                ) | reference_profile(connection, "test_scores", [SCORE], [])

        holdout = f"valid {usecase.holdout.valid}, test {usecase.holdout.test}, " + (
            "by time" if usecase.event_time else "by key"
        )
        recorded = {
            "use_case": usecase.name,
            "split": {"holdout": holdout},
            # What a feed's live performance leaves out, and what its weekly retraining waits past.
            **time_split_bounds(usecase, parts),
            "training_set": training_set_lineage(
                context.instance, dg.AssetKey([usecase.name, "training_set"])
            ),
            "feature_service": usecase.feature_service,
            "code_version": code_version(KIT_CODE),
        }
        return register(
            context, model_registry, trained, parts, usecase.label, profile_of, recorded, {}
        )

    return candidate


def evaluation_asset(usecase: UseCase) -> dg.AssetsDefinition:
    return kit_evaluation.evaluation_asset(
        kit_evaluation.EvaluationPlan(
            key=dg.AssetKey([usecase.name, "evaluation"]),
            group=usecase.group,
            candidates={
                usecase.model_name(kind): dg.AssetKey([usecase.name, f"model_{kind}"])
                for kind in MODEL_KINDS
            },
            candidate_prefix=f"{usecase.name}_",
            champion_alias=usecase.champion_alias,
            parts=lambda lake, _registry, _candidates: holdout_parts(
                usecase, lake.read_table(usecase.table("training_set"))
            ),
            entity=usecase.entity,
            label=usecase.label,
            gate_slices=usecase.slices,
            shown_slices=usecase.slices,
            baseline_by=usecase.baseline_by,
            slice_min_rows=usecase.slice_min_rows,
            shown_min_rows=usecase.slice_min_rows,
            scores_table=usecase.table("evaluation_scores"),
            describe_test=lambda rows: (
                f"{len(rows)} rows, {rows['label'].mean():.1%} {usecase.label}"
            ),
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


def champion_asset(usecase: UseCase) -> dg.AssetsDefinition:
    return promotion_asset(
        dg.AssetKey([usecase.name, "champion"]),
        dg.AssetKey([usecase.name, "evaluation"]),
        usecase.group,
        (usecase.champion_alias, usecase.challenger_alias),
        f"flightpath usecase {usecase.name} rollback",
    )


def model_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    return [
        *(candidate_asset(usecase, kind) for kind in MODEL_KINDS),
        evaluation_asset(usecase),
        champion_asset(usecase),
    ]
