"""The lifecycle kit: every stage of a use case's asset graph, built from its definition."""

import dagster as dg

from assets.kit.automation import feed, lifecycle_job, monitor_job, retrain_sensor, schedules
from assets.kit.bento import usecase_bento_asset
from assets.kit.data import data_assets
from assets.kit.features import feature_assets
from assets.kit.models import model_assets
from assets.kit.monitoring import monitoring_assets
from flightpath.usecase import UseCase


def lifecycle(usecase: UseCase, reference: str | None = None) -> dg.Definitions:
    """The use case's assets with their checks, its jobs, sensor and schedules; resources come
    from the code location, shared by every use case. With `reference` (where the definition
    is, as `module:attribute`), also the bento of its service."""
    lifecycle, monitor = lifecycle_job(usecase), monitor_job(usecase)
    feed_jobs, feed_schedules = feed(usecase)
    return dg.Definitions(
        assets=[
            *data_assets(usecase),
            *feature_assets(usecase),
            *model_assets(usecase),
            *monitoring_assets(usecase),
            *([usecase_bento_asset(usecase, reference)] if reference else []),
        ],
        jobs=[lifecycle, monitor, *feed_jobs],
        sensors=[retrain_sensor(usecase, lifecycle)],
        schedules=[*schedules(usecase, lifecycle, monitor), *feed_schedules],
    )
