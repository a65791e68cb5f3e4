"""The one Definitions object of the code location; state lives under $FLIGHTPATH_HOME."""

import os

import dagster as dg

from assets import delay_models, ingestion, reference, serving, validation
from assets.features import feature_store, flight_features, skew
from assets.kit import lifecycle
from assets.monitoring import feature_drift, live_performance
from flightpath.feed_clock import feed_seconds
from flightpath.home import data_home, lake_root, landing_root
from pipelines import k8s
from pipelines.automation import automation, daily_batch_predictions, retrain_sensor, weekly_retrain
from pipelines.feed_clock import feed_clock_sensor
from pipelines.jobs import (
    batch_predictions_job,
    daily_features_job,
    daily_ingest_job,
    feature_registry_job,
    reference_job,
    retrain_job,
    train_models_job,
    training_set_job,
)
from pipelines.sensors import landing_sensor
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy
from usecases import USECASES, load_usecase


def build_definitions() -> dg.Definitions:
    """Flights, then every other use case the kit builds, on the same resources."""
    usecases = (lifecycle(load_usecase(name), USECASES[name]) for name in USECASES)
    return dg.Definitions.merge(_flights(), *usecases)


def _flights() -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules(
            [
                ingestion,
                reference,
                validation,
                flight_features,
                feature_store,
                delay_models,
                serving,
                feature_drift,
                live_performance,
            ]
        ),
        asset_checks=dg.load_asset_checks_from_modules([ingestion, validation, skew]),
        jobs=[
            reference_job,
            daily_ingest_job,
            feature_registry_job,
            daily_features_job,
            training_set_job,
            train_models_job,
            batch_predictions_job,
            retrain_job,
        ],
        # In process, or one Kubernetes pod per step sized per asset (pipelines/k8s.py).
        executor=k8s.executor(),
        # The feed clock runs only under `flightpath dev` (it sets the variable).
        sensors=[feed_clock_sensor(feed_seconds()), landing_sensor, retrain_sensor, automation],
        schedules=[weekly_retrain, daily_batch_predictions],
        resources={
            "landing": LandingZone(root=str(landing_root())),
            "lake": Lake(root=lake_root()),
            # FLIGHTPATH_FEAST_PROFILE=feature_store.production.yaml: Redis + Postgres registry.
            "feature_store": FeatureStoreResource(
                home=str(data_home()),
                profile=os.environ.get("FLIGHTPATH_FEAST_PROFILE", "feature_store.yaml"),
                # The profile's own project (its key prefix in Redis), as the service reads it.
                project=os.environ.get("FLIGHTPATH_FEAST_PROJECT") or None,
            ),
            "model_registry": ModelRegistryResource(home=str(data_home())),
            "monitoring": MonitoringPolicy(),
        },
    )


defs = build_definitions()
