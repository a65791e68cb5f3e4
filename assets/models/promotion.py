"""`champion`: the registry alias the service serves, moved only through the gate."""

from dataclasses import asdict

import dagster as dg

from assets.models.evaluation import model_evaluation
from assets.models.training import GROUP
from flightpath.models.registry import CHALLENGER
from resources.model_registry import ModelRegistryResource


@dg.asset(
    group_name=GROUP,
    deps=[model_evaluation],
    description="Points the `champion` alias at the candidate that passed the promotion gate, "
    "and `challenger` at the best other candidate (the service shadows it). Runs only when "
    "the gate passes, and only to models whose files verify; `flightpath models rollback` "
    "undoes it.",
    kinds={"bentoml"},
)
def champion(
    context: dg.AssetExecutionContext, model_registry: ModelRegistryResource
) -> dg.MaterializeResult:
    event = context.instance.get_latest_materialization_event(model_evaluation.key)
    if event is None or event.asset_materialization is None:
        raise ValueError("model_evaluation has not been materialised")
    decision = event.asset_materialization.metadata["decision"].value
    winner = decision["winner"]
    if winner is None:  # the blocking check stops this in a run; direct calls must not either
        raise ValueError(f"the gate promoted nothing: {decision}")
    registry = model_registry.registry()
    verdict = next(v for v in decision["verdicts"] if v["candidate"] == winner)
    reason = (
        f"gate passed in run {context.run.run_id}: ROC-AUC {verdict['gain']:+.4f} over "
        f"{verdict['reference']} (interval {verdict['low']:+.4f} .. {verdict['high']:+.4f})"
    )
    actor = f"dagster run {context.run.run_id}"
    change = registry.promote(winner, reason, actor=actor)  # refuses a model that does not verify
    others = [tag for tag in decision["candidates"] if tag != winner]
    if others:
        registry.promote(others[0], f"other candidate of run {context.run.run_id}", CHALLENGER,
                         actor)  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "champion": winner,
            "previous": change.previous or "none",
            "challenger": registry.alias(CHALLENGER) or "none",
            "reason": reason,
            "promotion": dg.MetadataValue.json(asdict(change)),  # the audit log's entry
        },
        data_version=dg.DataVersion(winner),
    )
