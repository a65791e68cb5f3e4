"""The resources a use case's lifecycle runs with, over one test home."""

from __future__ import annotations

from pathlib import Path

from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy


def kit_resources(home: Path) -> dict[str, object]:
    return {
        "lake": Lake(root=str(home / "lake")),
        "feature_store": FeatureStoreResource(home=str(home)),
        "model_registry": ModelRegistryResource(home=str(home)),
        "monitoring": MonitoringPolicy(),
    }
