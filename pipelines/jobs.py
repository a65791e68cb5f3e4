"""Jobs: what the sensor and the CLI launch."""

import dagster as dg

from assets.partitions import daily_partitions

reference_job = dg.define_asset_job(
    "reference_ingest",
    selection=dg.AssetSelection.assets("raw_planes", "raw_airports", "raw_airlines", "airports"),
    description="Land the reference tables (planes, airports, airlines) in the lake.",
)

DAILY_ASSETS = {
    "flights": ("raw_flights", "flights", "quarantine_flights"),
    "weather": ("raw_weather", "weather", "quarantine_weather"),
}

daily_ingest_job = dg.define_asset_job(
    "daily_ingest",
    selection=dg.AssetSelection.assets(*(key for keys in DAILY_ASSETS.values() for key in keys)),
    partitions_def=daily_partitions,
    description="Ingest and validate one landed day of flights and weather.",
)

feature_registry_job = dg.define_asset_job(
    "feature_registry",
    selection=dg.AssetSelection.assets("feast_registry"),
    description="Apply the Feast repo (entities, views, services) to the registry.",
)

daily_features_job = dg.define_asset_job(
    "daily_features",
    selection=dg.AssetSelection.assets("flight_features", "online_features"),
    partitions_def=daily_partitions,
    description="Point-in-time features of one day, and the online store as of its end.",
)

training_set_job = dg.define_asset_job(
    "build_training_set",
    selection=dg.AssetSelection.assets("training_set"),
    description="Labels joined point-in-time with the training feature service, through Feast.",
)

train_models_job = dg.define_asset_job(
    "train_models",
    selection=dg.AssetSelection.assets(
        "delay_model_lgbm",
        "delay_model_torch",
        "model_evaluation",
        "champion",
        "delay_service_bento",
    ),
    description="Train both models, evaluate, promote through the gate, build the service's bento.",
)

batch_predictions_job = dg.define_asset_job(
    "daily_batch_predictions",
    selection=dg.AssetSelection.assets("batch_predictions"),
    partitions_def=daily_partitions,
    description="Score one day's scheduled flights with the champion.",
)
