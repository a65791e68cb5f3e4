"""Jobs: what the sensors, the schedules and the CLI launch."""

import warnings
from datetime import date, timedelta
from typing import Any

import dagster as dg

from flightpath.feed_calendar import FEED
from flightpath.run_tags import RETRAINING

reference_job = dg.define_asset_job(
    "reference_ingest",
    selection=dg.AssetSelection.assets("raw_planes", "raw_airports", "raw_airlines", "airports"),
    description="Land the reference tables (planes, airports, airlines) in the lake.",
)

DAILY_ASSETS = {
    "flights": ("raw_flights", "flights", "quarantine_flights"),
    "weather": ("raw_weather", "weather", "quarantine_weather"),
}

# A landed day all the way to the online store: ingestion, then daily_features' assets.
DAY_THROUGH_ONLINE = [
    *(key for keys in DAILY_ASSETS.values() for key in keys),
    "flight_features",
    "online_features",
]

daily_ingest_job = dg.define_asset_job(
    "daily_ingest",
    selection=dg.AssetSelection.assets(*(key for keys in DAILY_ASSETS.values() for key in keys)),
    description="Ingest and validate one landed day of flights and weather.",
)

feature_registry_job = dg.define_asset_job(
    "feature_registry",
    selection=dg.AssetSelection.assets("feast_registry"),
    description="Apply the Feast repo (entities, views, services) to the registry.",
)

# daily_features mixes flight_features (a backfill of many days is one run) with online_features
# (a snapshot as of one day's end: one day per run). Dagster warns on every load and backfills
# the job one day per run, both assets each day: what the job is for. A backfill of
# flight_features alone (the asset graph's Materialize) is the one-run range build.
warnings.filterwarnings(
    "ignore", message="Asset job daily_features materializes assets with varying BackfillPolicies"
)
daily_features_job = dg.define_asset_job(
    "daily_features",
    selection=dg.AssetSelection.assets("flight_features", "online_features"),
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
    tags={RETRAINING: "true"},
)

batch_predictions_job = dg.define_asset_job(
    "daily_batch_predictions",
    selection=dg.AssetSelection.assets("batch_predictions"),
    description="Score one day's scheduled flights with the champion.",
)

retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.assets(
        "training_set",
        "delay_model_lgbm",
        "delay_model_torch",
        "model_evaluation",
        "champion",
        "delay_service_bento",
    ),
    description="The loop's retraining: the training set through the latest day, both models, "
    "evaluation, the gate, promotion and the bento. Requested by the retrain sensor and the "
    "weekly schedule with the window in its config and the reason in its tags.",
    tags={RETRAINING: "true"},
)

TEST_DAYS = VALID_DAYS = 7


def retrain_config(through: date) -> dict[str, Any]:
    """Train from the feed's start, early-stop on the week before the last, test on the last.

    The gate compares the candidates with the champion on that last week: the newest data
    neither model trained on.
    """
    valid_end = through - timedelta(days=TEST_DAYS)
    train_end = valid_end - timedelta(days=VALID_DAYS)
    if train_end < FEED.first_day + timedelta(days=VALID_DAYS):
        raise ValueError(f"too early to retrain through {through}: train would end {train_end}")
    window = {"train_start": FEED.first_day.isoformat(), "train_end": train_end.isoformat(),
              "valid_end": valid_end.isoformat(), "test_end": through.isoformat()}  # fmt: skip
    return {
        "ops": {
            "training_set": {
                "config": {"start": FEED.first_day.isoformat(), "end": through.isoformat()}
            },
            **{name: {"config": window} for name in ("delay_model_lgbm", "delay_model_torch")},
        }
    }
