"""Validated rows → features in the lake, registered in the use case's Feast project, written to
its online store; labels joined point-in-time with the model's feature service: the training set.

A daily feed's features and online rows are daily partitions like its validated rows, so each
landed day reaches the online store in the feed's own run; the training set reads every day."""

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from assets.kit.data import partition_day, partitions, read_rows, validated_rows, write_rows
from assets.metadata import materialized
from flightpath.quality.contracts import Kind
from flightpath.storage import lake_location
from flightpath.usecase import TRAINING_TIME, UseCase
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake

if TYPE_CHECKING:
    from feast import FeatureStore


def usecase_store(usecase: UseCase, resource: FeatureStoreResource) -> "FeatureStore":
    """The use case's own Feast project, in the store (profile) the code location is set to."""
    from feature_repo.store import open_store

    return open_store(resource.home, resource.profile, usecase.feast_project)


def apply_objects(usecase: UseCase, store: "FeatureStore", home: str) -> list[str]:
    """Register the use case's entity, view and service in its project; their names."""
    from feature_repo.usecase_objects import usecase_objects

    objects = usecase_objects(usecase, lake_location(Path(home)))
    store.apply(list(objects.values()))
    return sorted(objects)


def _instant(usecase: UseCase) -> str:
    """Each row's instant in SQL: its event time, or the snapshot's for every row."""
    return usecase.event_time or f"TIMESTAMPTZ '{usecase.snapshot_time.isoformat()}'"


def feature_sql(usecase: UseCase, validated: str) -> str:
    """One row per entity: its key, the instant its features hold from, the features;
    `validated` is a table expression of the validated rows."""
    instant = _instant(usecase)
    columns = [
        f"CAST({name} AS VARCHAR) AS {name}" if usecase.columns[name] is Kind.TEXT else name
        for name in usecase.features
    ]
    return (
        f"SELECT {usecase.entity}, {instant} AS {usecase.event_column}, {', '.join(columns)} "
        f"FROM {validated} ORDER BY {usecase.entity}"
    )


def label_sql(usecase: UseCase, validated: str) -> str:
    """Feast's entity frame: key, the instant to join at, the label (the one rule), and the
    slice and baseline columns that are not features (they pass through the join)."""
    instant = _instant(usecase)
    judged_by = dict.fromkeys([*usecase.slices, *usecase.baseline_by])
    extra = [name for name in judged_by if name not in usecase.features]
    return (
        f"SELECT {usecase.entity}, {instant} AS {TRAINING_TIME}, "
        f"({usecase.label_rule}) AS {usecase.label}"
        + "".join(f", {name}" for name in extra)
        + f" FROM {validated} ORDER BY {usecase.entity}"
    )


def feature_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    if usecase.derived:
        raise ValueError(f"{usecase.name} computes its own features: the kit builds no feature "
                         f"stage for {list(usecase.derived)}")  # fmt: skip
    validated = dg.AssetKey(usecase.key("validated"))
    features_key = dg.AssetKey(usecase.key("features"))
    registry_key = dg.AssetKey(usecase.key("feast_registry"))
    days = partitions(usecase)
    table = usecase.table("features")

    @dg.asset(
        key=features_key,
        deps=[validated],
        group_name=usecase.group,
        partitions_def=days,
        description=f"The model's inputs per {usecase.entity}, in DuckDB: the Feast view's source.",
        kinds={"duckdb", "parquet"},
    )
    def features(context: dg.AssetExecutionContext, lake: Lake) -> dg.MaterializeResult:
        day = partition_day(context)
        rows = validated_rows(usecase, lake, day)
        frame = lake.query(feature_sql(usecase, rows))
        return materialized(frame, write_rows(lake, table, day, frame))

    @dg.asset(
        key=registry_key,
        group_name=usecase.group,
        description=f"The entity, view and service of Feast project `{usecase.feast_project}`, "
        "built from the use case's definition.",
        kinds={"feast"},
    )
    def feast_registry(feature_store: FeatureStoreResource) -> dg.MaterializeResult:
        store = usecase_store(usecase, feature_store)
        names = apply_objects(usecase, store, feature_store.home)
        return dg.MaterializeResult(metadata={"objects": dg.MetadataValue.json(names)})

    @dg.asset(
        key=usecase.key("online_features"),
        deps=[features_key, registry_key],
        group_name=usecase.group,
        partitions_def=days,
        description="Each entity's latest features in the online store, as the service reads them.",
        kinds={"feast"},
    )
    def online_features(
        context: dg.AssetExecutionContext, lake: Lake, feature_store: FeatureStoreResource
    ) -> dg.MaterializeResult:
        frame = read_rows(lake, table, partition_day(context))
        store = usecase_store(usecase, feature_store)
        registered = {view.name for view in store.list_feature_views()}
        if usecase.feature_view not in registered:  # a feed's first day, before the lifecycle's
            apply_objects(usecase, store, feature_store.home)
        store.write_to_online_store(usecase.feature_view, frame)
        newest = pd.to_datetime(frame[usecase.event_column], utc=True).max()
        return dg.MaterializeResult(
            metadata={"dagster/row_count": len(frame), "as_of": str(newest)}
        )

    @dg.asset(
        key=usecase.key("training_set"),
        deps=[validated, features_key, registry_key],
        group_name=usecase.group,
        description=f"Labels joined point-in-time with `{usecase.feature_service}` through Feast; "
        "rows without a label are excluded, and counted.",
        kinds={"feast", "parquet"},
    )
    def training_set(lake: Lake, feature_store: FeatureStoreResource) -> dg.MaterializeResult:
        labels = lake.query(label_sql(usecase, validated_rows(usecase, lake)))
        entities = labels.dropna(subset=[usecase.label])
        store = usecase_store(usecase, feature_store)
        frame = store.get_historical_features(
            entity_df=entities, features=store.get_feature_service(usecase.feature_service)
        ).to_df()
        frame = frame.sort_values(usecase.entity).reset_index(drop=True)
        return materialized(
            frame,
            lake.write_table(usecase.table("training_set"), frame),
            metadata={
                "unlabelled": len(labels) - len(entities),
                "positive_rate": float(frame[usecase.label].mean()) if len(frame) else 0.0,
            },
        )

    return [features, feast_registry, online_features, training_set]
