"""Model test data: real validated days, their features and the training set, built once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd

from assets.features import feature_store
from assets.features.build import build_flight_features
from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import LgbmDelayModel
from flightpath.models.registry import ModelRegistry
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource


def write_features(lake: Lake, days: list[date]) -> None:
    """The flight_features partitions, as the asset writes them (the asset is tested elsewhere)."""
    for day in days:
        lake.write_partition("flight_features", day, build_flight_features(lake, day, day))


def resources(home: Path) -> dict[str, object]:
    return {
        "lake": Lake(root=str(home / "lake")),
        "feature_store": FeatureStoreResource(home=str(home)),
        "model_registry": ModelRegistryResource(home=str(home)),
    }


def split_config(train_end: str, valid_end: str, test_end: str, start: str) -> dict:
    window = {"train_start": start, "train_end": train_end, "valid_end": valid_end,
              "test_end": test_end}  # fmt: skip
    return {"ops": {name: {"config": window} for name in ("delay_model_lgbm", "delay_model_torch")}}


def days_between(start: str, end: str) -> list[date]:
    return list(pd.date_range(start, end).date)


def materialize_registry(home: Path) -> None:
    assert dg.materialize([feature_store.feast_registry], resources=resources(home)).success


def save_tiny_models(
    registry: ModelRegistry, count: int, rng: np.random.Generator,
    metadata: dict[str, object] | None = None,
) -> list[str]:  # fmt: skip
    """Tiny real LightGBM models on two random features, saved through the registry as
    training saves them (with `metadata` beside the spec's); their tags."""
    spec = FeatureSpec(features=["a", "b"], vocabularies={})
    features = rng.normal(size=(200, 2))
    labels = (features[:, 0] > 0).astype(int)
    tags = []
    for number in range(count):
        booster = lgb.train({"objective": "binary", "verbose": -1, "seed": number},
                            lgb.Dataset(features, labels), num_boost_round=2)  # fmt: skip
        with registry.create(
            "delay_model_lgbm", "lightgbm", {**spec.to_metadata(), **(metadata or {})}
        ) as model:
            LgbmDelayModel(spec, booster).save(Path(model.path))
        tags.append(str(model.tag))
    return tags
