"""Serving: the service's bento with the champion, and the day's flights scored in bulk."""

import dagster as dg
import pandas as pd

from assets import groups
from assets.kit.bento import bento_spec, build_bento, built
from assets.metadata import materialized
from assets.partitions import daily_partitions, partition_day
from flightpath.entity_views import TRAINING_SERVICE
from flightpath.models.features import FEATURES
from flightpath.models.registry import CHAMPION
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

GROUP = groups.SERVING
THRESHOLD = 0.5  # the service's default FLIGHTPATH_THRESHOLD


@dg.asset(
    group_name=GROUP,
    deps=["champion"],
    description="`bentoml build` of bentos/ with the champion model inside: what a Kubernetes "
    "Deployment runs. The running service also follows the alias without a rebuild.",
    kinds={"bentoml"},
)
def delay_service_bento(model_registry: ModelRegistryResource) -> dg.MaterializeResult:
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    if tag is None:
        raise ValueError("no champion to package: materialise `champion` first")
    return built(build_bento(registry, bento_spec(tag)), tag, registry)


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    deps=["flight_features", "champion"],
    description="Every scheduled flight of the day scored by the champion, with the features "
    "training used (the `delay_model_training` service, point-in-time through Feast), kept "
    "beside each score for drift monitoring.",
    kinds={"feast", "parquet"},
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    lake: Lake,
    feature_store: FeatureStoreResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    day = partition_day(context)
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    if tag is None:
        raise ValueError("no champion to score with: materialise `champion` first")
    flights = lake.query(
        f"""
        SELECT flight_id, sched_dep_utc AS event_timestamp, sched_dep_utc
        FROM {lake.scan("flights")} WHERE date = $day ORDER BY sched_dep_utc, flight_id
        """,
        {"day": day},
    )
    store = feature_store.store()
    frame = store.get_historical_features(
        entity_df=flights, features=store.get_feature_service(TRAINING_SERVICE)
    ).to_df()
    model = registry.load(tag)
    probability = model.predict(model.spec.matrix(frame))
    scored = pd.DataFrame({
        "flight_id": frame["flight_id"], "sched_dep_utc": frame["sched_dep_utc"],
        "probability": probability, "delayed": probability >= THRESHOLD,
        "model": tag, **{name: frame[name] for name in FEATURES},
    }).sort_values(["sched_dep_utc", "flight_id"]).reset_index(drop=True)  # fmt: skip
    path = lake.write_partition("batch_predictions", day, scored)
    return materialized(
        scored,
        path,
        metadata={
            "model": tag,
            "mean_probability": float(scored["probability"].mean()) if len(scored) else 0.0,
            "predicted_delayed": int(scored["delayed"].sum()),
        },
    )
