"""The lifecycle kit: every stage of a use case's asset graph, built from its definition."""

import dagster as dg

from assets.kit.data import data_assets
from assets.kit.features import feature_assets
from assets.kit.models import model_assets
from flightpath.usecase import UseCase


def lifecycle(usecase: UseCase) -> dg.Definitions:
    """The use case's assets, checks, jobs, sensors and schedules (resources come from the
    code location, shared by every use case)."""
    assets = [*data_assets(usecase), *feature_assets(usecase), *model_assets(usecase)]
    train = dg.define_asset_job(
        f"{usecase.name}_train",
        selection=dg.AssetSelection.groups(usecase.group),
        description=f"The whole lifecycle of {usecase.title}: data to champion.",
    )
    return dg.Definitions(assets=assets, jobs=[train])
