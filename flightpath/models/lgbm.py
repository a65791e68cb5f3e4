"""The LightGBM champion: native categoricals, monotone in recent delays, early stopping."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from flightpath.models.artifacts import ARTIFACT_FILES
from flightpath.models.features import INCREASING, FeatureSpec
from flightpath.models.threads import model_threads

if TYPE_CHECKING:  # LightGBM (and the scikit-learn it pulls in) costs ~1 s to import: every
    # process that loads the code location imports this module, few of them train or score.
    import lightgbm as lgb

MODEL_FILE = ARTIFACT_FILES["lightgbm"]  # LightGBM's own text format: no pickle to trust
# How `Booster.save_model` ends a file: the parameters, then the Python package's pandas
# categories as one JSON line. A truncated file lacks it, and LightGBM's parser can segfault or
# abort on such a file, so it is checked before parsing.
TRAILER = re.compile(rb"\nend of parameters\n\npandas_categorical:(?P<json>[^\n]*)\n\Z")

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

    def predict(self, matrix: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Probability of a late arrival (the label) per row, on `model_threads()` by default."""
        threads = model_threads() if num_threads is None else num_threads
        return np.asarray(self.booster.predict(matrix, num_threads=threads), dtype=np.float64)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature contributions in log-odds (SHAP values), the bias in the last column."""
        return np.asarray(self.booster.predict(matrix, pred_contrib=True))

    def save(self, directory: Path) -> None:
        self.booster.save_model(directory / MODEL_FILE)

    @classmethod
    def load(cls, directory: Path, spec: FeatureSpec) -> LgbmDelayModel:
        return cls.from_text((directory / MODEL_FILE).read_bytes(), spec)

    @classmethod
    def from_text(cls, text: bytes, spec: FeatureSpec) -> LgbmDelayModel:
        """The model from a `model.txt`'s bytes; ValueError when it is not a whole file."""
        import lightgbm as lgb

        check_model_text(text)
        return cls(spec, lgb.Booster(model_str=text.decode()))


def check_model_text(text: bytes) -> None:
    """Refuse what LightGBM would crash on: no `tree` header, no trees' end, no trailer."""
    trailer = TRAILER.search(text)
    if not text.startswith(b"tree\n") or b"\nend of trees\n" not in text or trailer is None:
        raise ValueError(f"not a whole LightGBM model file ({len(text)} bytes): truncated?")
    try:
        json.loads(trailer["json"])
    except ValueError as error:
        raise ValueError(f"its pandas_categorical line is not JSON: {error}") from None


def training_params(
    spec: FeatureSpec,
    params: dict[str, object] | None = None,
    increasing: Sequence[str] = INCREASING,
) -> dict[str, object]:
    """PARAMS with overrides and the monotone constraints, for every training engine."""
    return {
        **PARAMS,
        **(params or {}),
        "monotone_constraints": [int(name in increasing) for name in spec.features],
    }


def train_lgbm(
    spec: FeatureSpec,
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    params: dict[str, object] | None = None,
    increasing: Sequence[str] = INCREASING,
) -> LgbmDelayModel:
    """Fit on `train`, stop when the validation log loss has not improved for 50 rounds."""
    import lightgbm as lgb

    settings = {"num_threads": model_threads(), **training_params(spec, params, increasing)}
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
