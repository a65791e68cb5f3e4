"""Flightpath's Feast objects: entities, sources, feature views, services.

Training reads `flight_features` (one row per flight, computed point-in-time in DuckDB).
Serving reads the latest values per origin, carrier, route and aircraft. Request-time features
come from one shared function (`schedule_context`) behind two on-demand views, so training and
serving compute them with the same code.
"""

import os
from datetime import datetime, timedelta
from pathlib import Path
from types import FunctionType
from typing import Any, cast

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    PushSource,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.types import Float64, Int64, String, UnixTimestamp

from feature_repo.transforms import SCHEDULE_CONTEXT, schedule_context
from flightpath.entity_views import ENTITY_VIEWS, SERVING_SERVICE, TRAINING_SERVICE, push_source
from flightpath.storage import is_remote, lake_location

LAKE = lake_location(Path(os.environ.get("FLIGHTPATH_HOME", ".flightpath")).resolve())

FEAST_TYPES = {int: Int64, float: Float64, str: String, datetime: UnixTimestamp}


def _fields(view: str) -> list[Field]:
    return [
        Field(name=name, dtype=FEAST_TYPES[kind])
        for name, kind in ENTITY_VIEWS[view].columns.items()
    ]


ORIGIN_CONGESTION = _fields("origin_congestion")
CARRIER_HISTORY = _fields("carrier_history")
ROUTE_HISTORY = _fields("route_history")
AIRCRAFT = _fields("aircraft")
ORIGIN_WEATHER = _fields("origin_weather")
SCHEDULE = [
    Field(name="carrier", dtype=String),
    Field(name="origin", dtype=String),
    Field(name="dest", dtype=String),
    Field(name="route", dtype=String),
    Field(name="distance", dtype=Float64),
    Field(name="origin_scheduled_departures_hour", dtype=Int64),
]


def _parquet_source(lake: str, table: str, **options: Any) -> FileSource:
    """A FileSource over every partition of the lake's `table`, local or in the bucket."""
    path = f"{lake}/{table}/*/*.parquet"
    if is_remote(lake):
        # Feast's DuckDB store reads through ibis, which insists on downloading DuckDB's httpfs
        # for s3:// paths. s3a:// names the same objects and goes through the s3fs filesystem
        # that `open_store` registers on ibis's connection instead.
        path = "s3a://" + path.removeprefix("s3://")
        options["s3_endpoint_override"] = os.environ.get("AWS_ENDPOINT_URL") or None
    return FileSource(path=path, **options)


def _entity_view(
    lake: str, name: str, entity: Entity, fields: list[Field], ttl: timedelta
) -> FeatureView:
    batch = _parquet_source(
        lake, f"online_snapshots/{name}", name=f"{name}_snapshots", timestamp_field="as_of"
    )
    return FeatureView(
        name=name,
        entities=[entity],
        ttl=ttl,
        schema=fields,
        source=PushSource(name=push_source(name), batch_source=batch),
        online=True,
    )


def _schedule_context(
    path: str, previous_landing: FeatureView, request: RequestSource
) -> OnDemandFeatureView:
    # Both views run the same importable function, so the registry refers to it by name.
    return OnDemandFeatureView(
        name=f"schedule_context_{path}",
        sources=[previous_landing, request],
        schema=[
            Field(name=name, dtype=Int64 if kind == "int64" else Float64)
            for name, kind in SCHEDULE_CONTEXT.items()
        ],
        udf=cast(FunctionType, schedule_context),
        udf_string="feature_repo.transforms.schedule_context",
        mode="pandas",
    )


def feast_objects(lake: str) -> dict[str, Any]:
    """Every Feast object of the repo, reading the lake at `lake` (a folder or an s3:// URL)."""
    departure_request = RequestSource(
        name="departure_request", schema=[Field(name="sched_dep_utc", dtype=UnixTimestamp)]
    )
    flight = Entity(
        name="flight",
        join_keys=["flight_id"],
        value_type=ValueType.STRING,
        description="carrier+number-origin-UTC time",
    )
    origin = Entity(
        name="origin",
        join_keys=["origin"],
        value_type=ValueType.STRING,
        description="New York departure airport",
    )
    carrier = Entity(name="carrier", join_keys=["carrier"], value_type=ValueType.STRING)
    route = Entity(
        name="route", join_keys=["route"], value_type=ValueType.STRING, description="origin-dest"
    )
    tail = Entity(
        name="tail", join_keys=["tailnum"], value_type=ValueType.STRING, description="the aircraft"
    )

    # --- training: one row per flight, as of its scheduled departure ---

    flight_features_source = _parquet_source(
        lake,
        "flight_features",
        name="flight_features_source",
        timestamp_field="sched_dep_utc",
        description="lake/flight_features, written by the flight_features asset",
    )

    flight_features = FeatureView(
        name="flight_features",
        entities=[flight],
        ttl=timedelta(days=1),
        schema=[
            *SCHEDULE,
            *ORIGIN_CONGESTION,
            *CARRIER_HISTORY,
            *ROUTE_HISTORY,
            *AIRCRAFT,
            *ORIGIN_WEATHER,
        ],
        source=flight_features_source,
        online=False,  # serving reads the entity views below; flights are not known in advance
    )

    # --- serving: the latest value per entity: batch snapshots plus a push source ---

    origin_congestion = _entity_view(
        lake, "origin_congestion", origin, ORIGIN_CONGESTION, timedelta(hours=3)
    )
    carrier_history = _entity_view(
        lake, "carrier_history", carrier, CARRIER_HISTORY, timedelta(days=7)
    )
    route_history = _entity_view(lake, "route_history", route, ROUTE_HISTORY, timedelta(days=30))
    aircraft = _entity_view(lake, "aircraft", tail, AIRCRAFT, timedelta(days=30))
    origin_weather = _entity_view(
        lake, "origin_weather", origin, ORIGIN_WEATHER, timedelta(hours=3)
    )

    # --- request-time features: one function, two on-demand views ---

    schedule_context_offline = _schedule_context("offline", flight_features, departure_request)
    schedule_context_online = _schedule_context("online", aircraft, departure_request)

    # --- the model's features, for training and for serving ---

    delay_model_training = FeatureService(
        name=TRAINING_SERVICE, features=[flight_features, schedule_context_offline]
    )
    delay_model_serving = FeatureService(
        name=SERVING_SERVICE,
        features=[
            origin_congestion,
            carrier_history,
            route_history,
            aircraft,
            origin_weather,
            schedule_context_online,
        ],
    )
    return {
        obj.name: obj
        for obj in (
            flight, origin, carrier, route, tail, departure_request,
            flight_features, origin_congestion, carrier_history, route_history, aircraft,
            origin_weather, schedule_context_offline, schedule_context_online,
            delay_model_training, delay_model_serving,
        )
    }  # fmt: skip


# `feast apply` finds objects as module attributes; the lake is $FLIGHTPATH_HOME/lake, or
# $FLIGHTPATH_STORAGE_URL/lake in the production profile.
globals().update(feast_objects(LAKE))
