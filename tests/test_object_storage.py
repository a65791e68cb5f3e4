"""The production profile's shared state on a real S3-compatible server (moto) on 127.0.0.1."""

import io
import tarfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets import ingestion, validation
from assets.features import feature_store, flight_features
from bentos.champion import ChampionWatcher
from bentos.prediction_log import PredictionLog
from flightpath.home import lake_root
from flightpath.models.registry import CHAMPION, ModelRegistry, RegistryError
from flightpath.models.shared_store import AliasConflict
from flightpath.parquet_files import UnreadableFileError
from flightpath.storage import StorageConfigError, location
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from tests.conftest import FEATURE_DAYS
from tests.model_data import save_tiny_models
from tests.services import object_storage_env, s3_bucket, s3_server

PREFIX = "prod"
DAY = date(2013, 1, 2)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket of this test's own, selected as the production profile's storage."""
    with s3_bucket(s3_endpoint) as name:
        for variable, value in object_storage_env(s3_endpoint, name, PREFIX).items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("FLIGHTPATH_HOME", str(tmp_path / "home"))
        yield name


def keys(bucket: str) -> list[str]:
    client = boto3.client("s3")  # endpoint and credentials: the AWS variables the fixture set
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_the_lake_is_in_the_bucket_when_storage_is_configured(bucket: str) -> None:
    assert lake_root() == f"s3://{bucket}/{PREFIX}/lake"


def test_without_a_storage_url_the_lake_stays_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTPATH_STORAGE_URL", raising=False)
    monkeypatch.setenv("FLIGHTPATH_HOME", str(tmp_path))
    assert lake_root() == str(tmp_path / "lake")
    assert ModelRegistry(tmp_path / "bentoml").shared is None


@pytest.mark.parametrize("url", ["flightpath/prod", "s3://", "https://s3.example.com/flightpath"])
def test_a_storage_url_that_is_not_a_bucket_is_refused_clearly(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTPATH_STORAGE_URL", url)
    with pytest.raises(StorageConfigError, match="expected s3://bucket or s3://bucket/prefix"):
        lake_root()


def test_a_partition_round_trips_through_the_bucket(bucket: str, tmp_path: Path) -> None:
    lake = Lake(root=lake_root())
    frame = pd.DataFrame({"flight_id": ["a", "b"], "dep_delay": [3.0, -1.0]})
    path = lake.write_partition("flights", DAY, frame)
    assert str(path) == f"s3://{bucket}/{PREFIX}/lake/flights/date={DAY}/part-0.parquet"
    assert keys(bucket) == [f"{PREFIX}/lake/flights/date={DAY}/part-0.parquet"]
    pd.testing.assert_frame_equal(lake.read_partition("flights", DAY), frame)
    assert not (tmp_path / "home").exists()  # nothing went to the local disk


def test_scan_reads_every_hive_partition_in_the_bucket(bucket: str) -> None:
    lake = Lake(root=lake_root())
    days = [date(2013, 1, n) for n in (1, 2, 3)]
    for n, day in enumerate(days, start=1):
        lake.write_partition(
            "flights", day, pd.DataFrame({"flight_id": [f"f{i}" for i in range(n)]})
        )
    counts = lake.query(
        f"SELECT date, count(*) AS n FROM {lake.scan('flights')} GROUP BY date ORDER BY date"
    )
    assert counts["date"].dt.date.tolist() == days
    assert counts["n"].tolist() == [1, 2, 3]
    pruned = lake.query(f"SELECT count(*) AS n FROM {lake.scan_days('flights', days[1], days[1])}")
    assert pruned["n"].tolist() == [2]


def test_a_failed_write_leaves_the_previous_object_whole(bucket: str) -> None:
    lake = Lake(root=lake_root())
    good = pd.DataFrame({"flight_id": ["a"]})
    lake.write_partition("flights", DAY, good)
    with pytest.raises(Exception, match="object"):
        lake.write_partition("flights", DAY, pd.DataFrame({"flight_id": [object()]}))
    pd.testing.assert_frame_equal(lake.read_partition("flights", DAY), good)


def test_a_corrupt_object_in_the_bucket_is_refused_by_name(bucket: str) -> None:
    lake = Lake(root=lake_root())
    path = lake.partition_path("flights", DAY)
    path.fs.pipe_file(path.path, b"carrier,flight\nUA,1\n")
    with pytest.raises(UnreadableFileError, match=f"{path}: not a Parquet file"):
        lake.read_partition("flights", DAY)


def test_dagster_materialises_a_landed_day_into_the_bucket(bucket: str, landed_home: Path) -> None:
    """raw -> validated -> flight_features for one landed day, every file read and written on S3."""
    lake = Lake(root=lake_root())
    local = Lake(root=str(landed_home / "lake"))
    for name in ("raw_airlines", "raw_airports", "raw_planes", "airports"):
        lake.write_table(name, local.read_table(name))
    resources = {"landing": LandingZone(root=str(landed_home / "landing")), "lake": lake}
    result = dg.materialize(
        [
            ingestion.raw_flights,
            ingestion.raw_weather,
            validation.validate_flights,
            validation.validate_weather,
            flight_features.flight_features,
        ],
        partition_key=DAY.isoformat(),
        resources=resources,
    )
    assert result.success
    partition = f"date={DAY}/part-0.parquet"
    stored = keys(bucket)
    for table in ("raw_flights", "raw_weather", "flights", "weather", "flight_features"):
        assert f"{PREFIX}/lake/{table}/{partition}" in stored
    features = lake.read_partition("flight_features", DAY)
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("flight_features")
    ]
    assert len(features) == event.materialization.metadata["dagster/row_count"].value > 800


def test_feast_builds_the_same_training_set_from_the_bucket(
    bucket: str, tmp_path: Path, january_lake: Lake, feature_home: Path
) -> None:
    """Features, snapshots and Feast's point-in-time join, all over the bucket, give the very
    training set the embedded profile built from local disk."""
    lake = Lake(root=lake_root())
    for table in ("flights", "weather"):
        for day in pd.date_range("2013-01-01", "2013-01-20").date:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    lake.write_table("raw_planes", january_lake.read_table("raw_planes"))
    store = FeatureStoreResource(home=str(tmp_path / "home"))
    resources = {"lake": lake, "feature_store": store}
    for day in FEATURE_DAYS:
        assert dg.materialize(
            [flight_features.flight_features], partition_key=day, resources=resources
        ).success
    assert dg.materialize([feature_store.feast_registry], resources=resources).success
    assert dg.materialize(
        [feature_store.online_features], partition_key=FEATURE_DAYS[-1], resources=resources
    ).success
    window = {
        "ops": {"training_set": {"config": {"start": FEATURE_DAYS[0], "end": FEATURE_DAYS[-1]}}}
    }
    assert dg.materialize(
        [feature_store.training_set], resources=resources, run_config=window
    ).success

    stored = keys(bucket)
    assert f"{PREFIX}/lake/training_set.parquet" in stored
    assert (
        f"{PREFIX}/lake/online_snapshots/aircraft/date={FEATURE_DAYS[-1]}/part-0.parquet" in stored
    )
    source = store.store().get_data_source("flight_features_source")
    assert source.path.startswith(f"s3a://{bucket}/{PREFIX}/lake/flight_features/")  # type: ignore[attr-defined]
    embedded = Lake(root=str(feature_home / "lake")).read_table("training_set")
    pd.testing.assert_frame_equal(lake.read_table("training_set"), embedded)
    assert len(embedded) > 2000


# --- the model store and the prediction log ---------------------------------------------------


def _save_models(registry: ModelRegistry, count: int) -> list[str]:
    return save_tiny_models(registry, count, np.random.default_rng(7))


def _archive(tag: str) -> str:
    name, version = tag.split(":")
    return f"{PREFIX}/models/{name}/{version}.bentomodel"


def test_a_model_saved_on_one_machine_serves_verified_on_another(
    bucket: str, tmp_path: Path
) -> None:
    trainer = ModelRegistry(tmp_path / "trainer" / "bentoml")
    [tag] = _save_models(trainer, 1)
    trainer.promote(tag, "gate")
    stored = keys(bucket)
    assert _archive(tag) in stored
    assert f"{PREFIX}/models/aliases.json" in stored

    service = ModelRegistry(tmp_path / "service" / "bentoml")  # another machine: nothing local
    assert service.models() == []
    assert service.alias(CHAMPION) == tag
    watcher = ChampionWatcher(service, poll_seconds=3600)
    try:
        assert watcher.lineup.champion.tag == tag
        assert watcher.lineup.refused == ()
    finally:
        watcher.close()
    assert [str(m.tag) for m in service.models()] == [tag]  # imported once, then local
    assert [(c.action, c.tag) for c in service.history()] == [("promote", tag)]


def test_a_model_corrupted_in_the_bucket_is_refused_and_the_previous_one_serves(
    bucket: str, tmp_path: Path
) -> None:
    trainer = ModelRegistry(tmp_path / "trainer" / "bentoml")
    first, second, third = _save_models(trainer, 3)
    trainer.promote(first, "gate")
    trainer.promote(second, "gate")
    client = boto3.client("s3")
    # Rewrite the second model's archive with one model file changed (the checksums stay).
    archive = client.get_object(Bucket=bucket, Key=_archive(second))["Body"].read()
    unpacked = tmp_path / "unpacked"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = tar.getmembers()
        tar.extractall(unpacked, filter="data")
    [model_file] = [p for p in unpacked.rglob("*") if p.is_file() and p.name.startswith("model.")
                    and p.suffix not in (".yaml", ".json")]  # fmt: skip
    model_file.write_bytes(model_file.read_bytes().replace(b"1", b"2", 1))
    repacked = io.BytesIO()
    with tarfile.open(fileobj=repacked, mode="w:xz") as tar:  # .bentomodel: xz tar
        for member in members:
            tar.add(unpacked / member.name, arcname=member.name, recursive=False)
    client.put_object(Bucket=bucket, Key=_archive(second), Body=repacked.getvalue())
    # And the third one's archive is not an archive at all.
    client.put_object(Bucket=bucket, Key=_archive(third), Body=b"not a model")

    service = ModelRegistry(tmp_path / "service" / "bentoml")
    with pytest.raises(RegistryError, match=f"{second} refused: {model_file.name} does not match"):
        service.load(second)
    with pytest.raises(RegistryError, match=f"{third} refused: not importable"):
        service.load(third)
    watcher = ChampionWatcher(service, poll_seconds=3600)
    try:
        assert watcher.lineup.champion.tag == first  # the last good champion, never the bad one
        assert [r.tag for r in watcher.lineup.refused] == [second]
    finally:
        watcher.close()
    with pytest.raises(RegistryError, match="refused"):
        service.promote(third, "must not move the alias")
    assert trainer.alias(CHAMPION) == second


def test_an_alias_change_based_on_stale_aliases_is_refused(bucket: str, tmp_path: Path) -> None:
    one = ModelRegistry(tmp_path / "one" / "bentoml")
    first, second = _save_models(one, 2)
    assert one.shared is not None
    stale = one.shared.state()
    ModelRegistry(tmp_path / "two" / "bentoml").promote(first, "promoted on another machine")
    with pytest.raises(AliasConflict, match="changed meanwhile"):
        one.shared.save({CHAMPION: [second]}, stale, {"at": "2013-01-01T00:00:00+00:00"})
    assert one.alias(CHAMPION) == first
    assert [c.reason for c in one.history()] == ["promoted on another machine"]


def test_the_prediction_log_lands_in_the_bucket(bucket: str) -> None:
    log = PredictionLog(location(lake_root()) / "prediction_log", max_seconds=3600)
    try:
        log.append([{"date": "2013-01-02", "flight_id": "a", "probability": 0.25},
                    {"date": "2013-01-02", "flight_id": "b", "probability": 0.75}])  # fmt: skip
        assert log.flush() == 2
    finally:
        log.close()
    [key] = [k for k in keys(bucket) if "/prediction_log/" in k]
    assert key.startswith(f"{PREFIX}/lake/prediction_log/date=2013-01-02/")
    lake = Lake(root=lake_root())
    logged = lake.query(f"SELECT flight_id, probability FROM {lake.scan('prediction_log')}")
    assert sorted(logged["flight_id"]) == ["a", "b"]
