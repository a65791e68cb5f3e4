"""A trained candidate into the model registry: scored on its validation and test rows, saved
with its drift reference profile and what it was made from, reported on the asset."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from flightpath.models.metrics import scores
from flightpath.models.splits import xy
from flightpath.monitoring.profile import PROFILE_FILE, ReferenceProfile
from resources.model_registry import ModelRegistryResource


@dataclass(frozen=True)
class Candidate:
    """A trained model and how it was trained, before it is registered."""

    name: str  # its registry name
    framework: str  # lightgbm or torch
    model: Any  # LgbmDelayModel or MlpDelayModel: spec, predict, save
    settings: dict[str, Any]  # parameters and what training reported (rounds, epochs, device)


def register(
    context: dg.AssetExecutionContext,
    model_registry: ModelRegistryResource,
    candidate: Candidate,
    parts: dict[str, pd.DataFrame],
    label: str,
    profile_of: Callable[[np.ndarray], ReferenceProfile],
    recorded: dict[str, Any],
    reported: dict[str, Any],
) -> dg.MaterializeResult:
    """Register `candidate`, trained on `parts` (train, valid, test); `profile_of` the test
    scores is its drift reference; `recorded` goes into the registry's metadata with the
    metrics and rows, `reported` into the asset's with the tag and the ROC-AUCs."""
    model = candidate.model
    predicted = {}
    for part in ("valid", "test"):
        matrix, labels = xy(model.spec, parts[part], label)
        predicted[part] = (labels, model.predict(matrix))
    metrics = {part: scores(*pair) for part, pair in predicted.items()}
    profile = profile_of(predicted["test"][1])
    rows = {part: len(frame) for part, frame in parts.items()}
    metadata = {
        **model.spec.to_metadata(),
        **candidate.settings,
        **recorded,
        "rows": rows,
        "dagster_run_id": context.run.run_id,
        "metrics": metrics,
        "drift_profile": {"file": PROFILE_FILE, **profile.describe()},
    }
    with model_registry.registry().create(candidate.name, candidate.framework, metadata) as entry:
        model.save(Path(entry.path))
        profile.write(Path(entry.path) / PROFILE_FILE)
    tag = str(entry.tag)
    return dg.MaterializeResult(
        metadata={
            "tag": tag,
            "test_roc_auc": metrics["test"]["roc_auc"],
            "test_pr_auc": metrics["test"]["pr_auc"],
            "valid_roc_auc": metrics["valid"]["roc_auc"],
            "rows": dg.MetadataValue.json(rows),
            **reported,
            "settings": dg.MetadataValue.json(candidate.settings),
        },
        data_version=dg.DataVersion(tag),
    )
