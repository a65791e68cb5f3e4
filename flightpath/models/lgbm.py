"""The LightGBM champion: native categoricals, monotone in recent delays, early stopping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from flightpath.models.features import INCREASING, FeatureSpec

MODEL_FILE = "model.txt"  # LightGBM's own text format: no pickle to trust

PARAMS: dict[str, object] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 20.0,
    "seed": 7,
    "deterministic": True,  # with force_row_wise: the same data gives the same model
    "force_row_wise": True,
    "verbose": -1,
}
MAX_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 50


@dataclass
class LgbmDelayModel:
    spec: FeatureSpec
    booster: lgb.Booster

    def predict(self, matrix: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """Probability of a >15 min arrival delay per row (`num_threads=1` for single rows)."""
        return np.asarray(self.booster.predict(matrix, num_threads=num_threads), dtype=np.float64)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature contributions in log-odds (SHAP values), the bias in the last column."""
        return np.asarray(self.booster.predict(matrix, pred_contrib=True))

    def save(self, directory: Path) -> None:
        self.booster.save_model(directory / MODEL_FILE)

    @classmethod
    def load(cls, directory: Path, spec: FeatureSpec) -> LgbmDelayModel:
        return cls(spec, lgb.Booster(model_file=directory / MODEL_FILE))


def training_params(
    spec: FeatureSpec, params: dict[str, object] | None = None
) -> dict[str, object]:
    """PARAMS with overrides and the monotone constraints, for every training engine."""
    return {
        **PARAMS,
        **(params or {}),
        "monotone_constraints": [int(name in INCREASING) for name in spec.features],
    }


def train_lgbm(
    spec: FeatureSpec,
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    params: dict[str, object] | None = None,
) -> LgbmDelayModel:
    """Fit on `train`, stop when the validation log loss has not improved for 50 rounds."""
    settings = training_params(spec, params)
    categorical = spec.categorical
    train_set = lgb.Dataset(*train, categorical_feature=categorical, feature_name=spec.features)
    valid_set = lgb.Dataset(*valid, categorical_feature=categorical, reference=train_set)
    booster = lgb.train(
        settings,
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    return LgbmDelayModel(spec, booster)
