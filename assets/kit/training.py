"""A candidate trained on its holdout's rows, the same way for every use case: the LightGBM
champion candidate, or the PyTorch challenger (on CUDA when there is one)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assets.kit.registration import Candidate
from flightpath.models.features import FeatureSpec
from flightpath.models.splits import xy

Rows = tuple[np.ndarray, np.ndarray]  # a part's matrix and labels
# How LightGBM is fitted: in this process (`train_lgbm`) unless a use case runs it elsewhere
# (flights can on Dask); (spec, train, valid, params, increasing) → the model.
LgbmFit = Callable[[FeatureSpec, Rows, Rows, dict[str, object], Sequence[str]], Any]


@dataclass(frozen=True)
class Recipe:
    """What a use case's candidates learn from, and the settings its data's size calls for."""

    label: str
    features: list[str]
    categorical: Sequence[str]
    lgbm_params: dict[str, object] = field(default_factory=dict)  # over lgbm.PARAMS
    increasing: Sequence[str] = ()  # features the risk may only rise with (monotone)
    mlp: dict[str, Any] = field(default_factory=dict)  # over MlpConfig's defaults


def train_candidate(
    name: str,
    kind: str,
    recipe: Recipe,
    parts: dict[str, pd.DataFrame],
    fit_lgbm: LgbmFit | None = None,
) -> Candidate:
    """Candidate `name` of `kind` (lgbm or torch), fitted on `parts["train"]` and stopped early
    on `parts["valid"]`; its vocabularies come from the training rows only."""
    spec = FeatureSpec.fit(parts["train"], recipe.features, recipe.categorical)
    train, valid = (xy(spec, parts[part], recipe.label) for part in ("train", "valid"))
    if kind == "lgbm":
        from flightpath.models.lgbm import PARAMS, train_lgbm

        fit: LgbmFit = fit_lgbm or train_lgbm
        booster = fit(spec, train, valid, recipe.lgbm_params, recipe.increasing)
        settings = {"params": {**PARAMS, **recipe.lgbm_params},
                    "best_iteration": booster.booster.best_iteration}  # fmt: skip
        return Candidate(name, "lightgbm", booster, settings)
    # torch is imported only to train: it adds ~2.3 s to every load of the code location.
    from flightpath.models.mlp import MlpConfig, train_mlp, training_device

    device = training_device()
    model = train_mlp(spec, train, valid, MlpConfig(**recipe.mlp), device)
    model.network.cpu()  # saved and scored on the CPU: the service has no GPU
    epochs = model.epoch_seconds
    settings = {**model.metadata(), "device": device.type, "epochs": len(epochs),
                "seconds_per_epoch": sum(epochs) / len(epochs)}  # fmt: skip
    return Candidate(name, "torch", model, settings)
