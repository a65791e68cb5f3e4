"""The Feast objects of a use case, built from its definition: no Feast file per use case.

They live in the use case's own Feast project (`UseCase.feast_project`), so applying them
neither touches nor stales the flights objects of `feature_repo/definitions.py`.
"""

from datetime import timedelta
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, PrimitiveFeastType, String

from flightpath.quality.contracts import Kind
from flightpath.storage import is_remote
from flightpath.usecase import UseCase

FEAST_TYPES: dict[Kind, PrimitiveFeastType] = {
    Kind.INTEGER: Int64, Kind.NUMBER: Float64, Kind.TEXT: String,
}  # fmt: skip
VALUE_TYPES = {Kind.INTEGER: ValueType.INT64, Kind.TEXT: ValueType.STRING}
# A snapshot's rows never expire; a time-stamped feature row is good for a year.
SNAPSHOT_TTL, EVENT_TTL = timedelta(0), timedelta(days=365)


def usecase_objects(usecase: UseCase, lake: str) -> dict[str, Any]:
    """Entity, source, the one feature view (offline and online) and the model's service."""
    table = usecase.table("features")
    # A feed's features are a partition a day (`date=<day>/`); a snapshot's one file.
    path = f"{lake}/{table}/*/*.parquet" if usecase.daily else f"{lake}/{table}.parquet"
    options: dict[str, Any] = {}
    if is_remote(lake):  # the same s3a:// workaround as feature_repo/definitions.py
        import os

        path = "s3a://" + path.removeprefix("s3://")
        options["s3_endpoint_override"] = os.environ.get("AWS_ENDPOINT_URL") or None
    entity = Entity(
        name=usecase.entity,
        join_keys=[usecase.entity],
        value_type=VALUE_TYPES[usecase.columns[usecase.entity]],
    )
    source = FileSource(
        name=f"{usecase.feature_view}_source",
        path=path,
        timestamp_field=usecase.event_column,
        **options,
    )
    view = FeatureView(
        name=usecase.feature_view,
        entities=[entity],
        ttl=EVENT_TTL if usecase.event_time else SNAPSHOT_TTL,
        schema=[
            Field(name=name, dtype=FEAST_TYPES[usecase.columns[name]]) for name in usecase.features
        ],
        source=source,
        online=True,
    )
    service = FeatureService(name=usecase.feature_service, features=[view])
    return {obj.name: obj for obj in (entity, view, service)}
