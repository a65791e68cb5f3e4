"""Feast in the graph: the registry, the online store and point-in-time training sets."""

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from assets import groups
from assets.automation import after_upstream_days
from assets.features.build import build_snapshot
from assets.metadata import file_version, materialized
from assets.partitions import daily_partitions, partition_day
from feature_repo.store import REPO
from flightpath import entity_views
from flightpath.feed_calendar import FEED
from flightpath.models.features import LABEL, label_sql
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake

if TYPE_CHECKING:
    from feast import FeatureStore

GROUP = groups.FEATURES
# One writer at a time: a day's read-compare-write of the online store is not atomic across runs.
ONLINE_STORE_POOL = "online_store"

# Online entity views: the key they are read by, and the snapshot columns they hold.
ENTITY_VIEWS = {
    name: (view.key, list(view.columns)) for name, view in entity_views.ENTITY_VIEWS.items()
}


def _repo_version() -> str:
    """Changes whenever a definition or a profile of the Feast repo changes: re-apply then.

    The views' columns live in the library (`flightpath/entity_views.py`), so that file counts too.
    """
    digest = hashlib.sha256()
    columns = Path(entity_views.__file__)
    for path in [*sorted(REPO.glob("*.py")), *sorted(REPO.glob("*.yaml")), columns]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@dg.asset(
    group_name=GROUP,
    code_version=_repo_version(),
    # With the daemon running, a changed definition (or an empty registry) is applied by itself.
    automation_condition=(
        dg.AutomationCondition.missing() | dg.AutomationCondition.code_version_changed()
    )
    & ~dg.AutomationCondition.in_progress(),
    description="`feast apply` of feature_repo/: entities, views, on-demand views, services.",
    kinds={"feast"},
)
def feast_registry(feature_store: FeatureStoreResource) -> dg.MaterializeResult:
    names = feature_store.apply()
    return dg.MaterializeResult(
        metadata={"objects": dg.MetadataValue.json(names), "repo_version": _repo_version()}
    )


def end_of_day_utc(day: date) -> datetime:
    """The instant a local day (the feed's time zone) ends: its snapshot is taken then."""
    return pd.Timestamp(day + timedelta(days=1), tz=FEED.timezone).tz_convert("UTC").to_pydatetime()


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    deps=["flights", "weather", "raw_planes", feast_registry],
    description=(
        "Every serving feature as of the end of the day, per origin, carrier, route and "
        "aircraft: written to the lake (the views' batch source) and to the online store."
    ),
    kinds={"feast", "duckdb"},
    automation_condition=after_upstream_days("raw_planes", "feast_registry"),
    pool=ONLINE_STORE_POOL,
)
def online_features(
    context: dg.AssetExecutionContext, lake: Lake, feature_store: FeatureStoreResource
) -> dg.MaterializeResult:
    day = partition_day(context)
    as_of = end_of_day_utc(day)
    snapshot = build_snapshot(lake, as_of)
    store = feature_store.store()
    keys: dict[str, int] = {}
    kept: dict[str, int] = {}
    versions = []
    for view, (key, columns) in ENTITY_VIEWS.items():
        frame = entity_rows(snapshot, key, columns, as_of)
        path = lake.write_partition(f"online_snapshots/{view}", day, frame)
        kept[view] = write_unless_newer_online(store, view, frame, as_of)
        keys[view] = len(frame)
        versions.append(file_version(path).value)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(keys.values()),
            "keys_per_view": dg.MetadataValue.json(keys),
            # Keys a later day (or the stream) had already written: left as they were.
            "kept_newer_online": dg.MetadataValue.json(kept),
            "as_of": as_of.isoformat(),
        },
        data_version=dg.DataVersion(hashlib.sha256("".join(versions).encode()).hexdigest()[:16]),
    )


def online_instants(store: "FeatureStore", view: str, keys: Iterable[Any]) -> pd.Series:
    """The instant each key's online row of `view` is as of (UTC); the epoch where it has none."""
    key, columns = ENTITY_VIEWS[view]
    rows = [{key: value} for value in keys]
    if not rows:  # Feast fails on a read of no entity at all
        return pd.Series([], dtype="datetime64[ns, UTC]")
    response = store.get_online_features(features=[f"{view}:{columns[0]}"], entity_rows=rows)
    seconds = response.to_dict(include_event_timestamps=True)[f"{columns[0]}__ts"]
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True))


def write_unless_newer_online(
    store: "FeatureStore", view: str, frame: pd.DataFrame, as_of: datetime
) -> int:
    """Write `frame`'s rows except where the store holds a newer row; returns how many it kept.

    Feast's SQLite store overwrites whatever it holds (Redis compares event times): an older
    day's run finishing after a newer one's would otherwise put the past back online. Rows as
    of the same instant are rewritten, so a corrected day can be re-materialised.
    """
    newer = (online_instants(store, view, frame[ENTITY_VIEWS[view][0]]) > as_of).to_numpy()
    if not newer.all():
        store.write_to_online_store(view, frame[~newer])
    return int(newer.sum())


def entity_rows(
    snapshot: pd.DataFrame, key: str, columns: list[str], as_of: datetime
) -> pd.DataFrame:
    """One row per entity, in key order: every probe of an entity reads the same windows at
    `as_of`, and the snapshot's probes come in no set order (the file must not change with it)."""
    rows = snapshot.dropna(subset=[key]).drop_duplicates(subset=[key])[[key, *columns]]
    return rows.sort_values(key).assign(as_of=as_of).reset_index(drop=True)


class TrainingWindow(dg.Config):
    """Local days whose flights make up the training set (labels and features); the whole feed
    by default."""

    start: str = FEED.first_day.isoformat()
    end: str = FEED.last_day.isoformat()


@dg.asset(
    group_name=GROUP,
    deps=["flights", "flight_features", feast_registry],
    description=(
        "Labels joined point-in-time with the `delay_model_training` feature service through "
        "Feast. Cancelled and diverted flights have no arrival delay: excluded, and counted."
    ),
    kinds={"feast", "parquet"},
)
def training_set(
    config: TrainingWindow, lake: Lake, feature_store: FeatureStoreResource
) -> dg.MaterializeResult:
    labels = flight_labels(lake, date.fromisoformat(config.start), date.fromisoformat(config.end))
    unlabelled = int(labels[LABEL].isna().sum())
    entities = labels.dropna(subset=[LABEL])
    store = feature_store.store()
    frame = store.get_historical_features(
        entity_df=entities, features=store.get_feature_service(entity_views.TRAINING_SERVICE)
    ).to_df()
    frame = frame.sort_values(["event_timestamp", "flight_id"]).reset_index(drop=True)
    path = lake.write_table("training_set", frame)
    # What the models' lineage points at: each feature partition read, by content version.
    partitions = {
        day.isoformat(): file_version(part).value
        for day in pd.date_range(config.start, config.end).date
        if (part := lake.partition_path("flight_features", day)).exists()
    }
    return materialized(
        frame,
        path,
        metadata={
            "window": f"{config.start} .. {config.end}",
            "excluded_cancelled_or_diverted": unlabelled,
            "delay_rate": float(frame[LABEL].mean()) if len(frame) else 0.0,
            "feature_partitions": dg.MetadataValue.json(partitions),
        },
    )


def flight_labels(lake: Lake, start: date, end: date) -> pd.DataFrame:
    """Feast's entity frame: flight key, the instant to join at, the request field, the label."""
    return lake.query(
        f"""
        SELECT flight_id, sched_dep_utc AS event_timestamp, sched_dep_utc,
               {label_sql()} AS {LABEL}
        FROM {lake.scan("flights")}
        WHERE date BETWEEN $start AND $end
        ORDER BY sched_dep_utc, flight_id
        """,
        {"start": start, "end": end},
    )
