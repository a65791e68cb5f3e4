"""The production profile's shared state on a real S3-compatible server (moto) on 127.0.0.1."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, validation
from assets.features import flight_features
from resources.home import lake_root
from resources.lake import Lake
from resources.landing import LandingZone
from resources.parquet_files import UnreadableFileError
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
