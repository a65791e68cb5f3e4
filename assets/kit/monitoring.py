"""Champion → batch predictions → drift against the profile saved with the model, and live
performance on the outcomes known since; an alert from either asks for a retraining."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from assets.kit.alerts import LIVE_CHECK, drift_alerts, judge_live_roc_auc
from assets.kit.models import SCORE
from assets.metadata import materialized, table
from flightpath.monitoring.drift import drift_against
from flightpath.usecase import UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy

DRIFT_CHECK = "no_drift"


def _champion(usecase: UseCase, model_registry: ModelRegistryResource) -> str:
    tag = model_registry.registry().alias(usecase.champion_alias)
    if tag is None:
        raise ValueError(f"no champion yet: `{usecase.champion_alias}` points at no model")
    return tag


def monitoring_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    batch_key = dg.AssetKey([usecase.name, "batch_predictions"])
    drift_key = dg.AssetKey([usecase.name, "drift"])
    live_key = dg.AssetKey([usecase.name, "live_performance"])

    @dg.asset(
        key=batch_key,
        deps=[[usecase.name, "features"], [usecase.name, "champion"]],
        group_name=usecase.group,
        description="Every entity's latest features scored by the champion.",
        kinds={"bentoml", "parquet"},
    )
    def batch_predictions(
        lake: Lake, model_registry: ModelRegistryResource
    ) -> dg.MaterializeResult:
        tag = _champion(usecase, model_registry)
        model = model_registry.registry().load(tag)
        frame = lake.read_table(usecase.table("features"))
        frame[SCORE] = model.predict(model.spec.matrix(frame))
        frame = frame.assign(model=tag, scored_at=datetime.now(UTC))
        path = lake.write_table(usecase.table("batch_predictions"), frame)
        return materialized(frame, path, metadata={"model": tag})

    @dg.asset(
        key=drift_key,
        deps=[batch_key],
        group_name=usecase.group,
        check_specs=[dg.AssetCheckSpec(DRIFT_CHECK, asset=drift_key, description="No feature, "
                     "and not the score, has a PSI over the monitoring policy's threshold.")],
        description="PSI and KS / chi-square of the scored rows' features and scores against "
        "the champion's training rows and test scores (the profile saved with it).",
        kinds={"duckdb"},
    )  # fmt: skip
    def drift(
        lake: Lake, model_registry: ModelRegistryResource, monitoring: MonitoringPolicy
    ) -> dg.MaterializeResult:
        scored = str(lake.table_path(usecase.table("batch_predictions")))
        registry = model_registry.registry()
        profile = registry.drift_profile(_champion(usecase, model_registry))
        if profile is None:
            raise ValueError("the champion was saved without a drift profile: retrain it")
        with lake.connect() as connection:
            stats = drift_against(
                profile, connection, f"read_parquet('{scored}')",
                [*usecase.numeric, SCORE], list(usecase.categorical),
            )  # fmt: skip
        alerts = drift_alerts(stats, SCORE, monitoring)
        return dg.MaterializeResult(
            metadata={
                "drift": table(pd.DataFrame([s.to_dict() for s in stats])),
                "alerts": dg.MetadataValue.json(alerts),
                **{f"psi/{s.feature}": s.psi for s in stats},
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=DRIFT_CHECK,
                    passed=not alerts,
                    description="; ".join(alerts) or "no drift",
                )
            ],
        )

    @dg.asset(
        key=live_key,
        deps=[batch_key, [usecase.name, "validated"]],
        group_name=usecase.group,
        check_specs=[dg.AssetCheckSpec(LIVE_CHECK, asset=live_key, description="The champion's "
                     "ROC-AUC on outcomes known since scoring holds to its test ROC-AUC.")],
        description="The champion's batch scores against the outcomes now known, leaving out "
        "the entities it trained on.",
        kinds={"duckdb"},
    )  # fmt: skip
    def live_performance(
        lake: Lake, model_registry: ModelRegistryResource, monitoring: MonitoringPolicy
    ) -> dg.MaterializeResult:
        tag = _champion(usecase, model_registry)
        scored = lake.read_table(usecase.table("batch_predictions"))
        labelled = lake.read_table(usecase.table("training_set"))
        # The windows of the whole training set (a time split's cuts depend on all of it).
        held_out = labelled[usecase.windows(labelled) != "train"]
        rows = scored.merge(held_out[[usecase.entity, usecase.label]], on=usecase.entity)
        rows = rows.rename(columns={usecase.label: "label", SCORE: "probability"})
        tested = model_registry.registry().metadata(tag)["metrics"]["test"]["roc_auc"]
        # A snapshot's held-out rows are all it will get: judged from a gate slice's minimum.
        verdict = judge_live_roc_auc(rows, tested, monitoring, "the held-out rows",
                                     min_labelled=usecase.slice_min_rows)  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                **({"live_roc_auc": verdict.live} if verdict.live is not None else {}),
                "test_roc_auc": tested,
                "labelled_rows": len(rows),
                "alerts": dg.MetadataValue.json(verdict.alerts),
                "summary": verdict.summary,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=LIVE_CHECK, passed=not verdict.alerts, description=verdict.summary
                )
            ],
        )

    return [batch_predictions, drift, live_performance]
