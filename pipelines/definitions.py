"""The one Definitions object of the code location; state lives under $FLIGHTPATH_HOME."""

import dagster as dg

from assets import ingestion, reference, validation
from assets.features import flight_features
from pipelines.jobs import daily_ingest_job, reference_job
from pipelines.sensors import landing_sensor
from resources.home import lake_root, landing_root
from resources.lake import Lake
from resources.landing import LandingZone


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([ingestion, reference, validation, flight_features]),
        asset_checks=dg.load_asset_checks_from_modules([ingestion, validation]),
        jobs=[reference_job, daily_ingest_job],
        # In process: a subprocess per step costs ~2 s a step and buys nothing at this size.
        # Production swaps in dagster-k8s' executor through configuration.
        executor=dg.in_process_executor,
        sensors=[landing_sensor],
        resources={
            "landing": LandingZone(root=str(landing_root())),
            "lake": Lake(root=str(lake_root())),
        },
    )


defs = build_definitions()
