"""What a model was made from: the training set's run, window, partitions and code."""

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
MODEL_CODE = [ROOT / "flightpath" / "models", ROOT / "assets" / "models", ROOT / "feature_repo"]


def code_version() -> dict[str, str]:
    """A hash of the model and feature code, and the git commit when there is one."""
    digest = hashlib.sha256()
    for folder in MODEL_CODE:
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode() + path.read_bytes())
    version = {"source": digest.hexdigest()[:12]}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        if commit.returncode == 0:
            version["git"] = commit.stdout.strip()
    except OSError:  # no git on the machine: the source hash alone identifies the code
        pass
    return version


def training_set_lineage(instance: dg.DagsterInstance) -> dict[str, Any]:
    """The latest `training_set` materialisation: run, data version, window, partitions."""
    event = instance.get_latest_materialization_event(dg.AssetKey("training_set"))
    if event is None or event.asset_materialization is None:
        raise ValueError("training_set has never been materialised in this Dagster instance")
    materialization = event.asset_materialization
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    return {
        "run_id": event.run_id,
        "data_version": (materialization.tags or {}).get("dagster/data_version"),
        "window": metadata.get("window"),
        "rows": metadata.get("dagster/row_count"),
        "excluded_cancelled_or_diverted": metadata.get("excluded_cancelled_or_diverted"),
        "feature_partitions": metadata.get("feature_partitions", {}),
    }
