"""What a model was made from: the training set's run, window, partitions and code."""

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]


def code_version(folders: list[Path]) -> dict[str, str]:
    """A hash of the model and feature code in `folders`, and the git commit when there is one."""
    digest = hashlib.sha256()
    for folder in folders:
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


def training_set_lineage(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, Any]:
    """The latest materialisation of the training set `key`: run, data version, window,
    partitions (a use case's has no window or partitions: None and {})."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise ValueError(
            f"{key.to_user_string()} has never been materialised in this Dagster instance"
        )
    materialization = event.asset_materialization
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    lineage = {
        "run_id": event.run_id,
        "data_version": (materialization.tags or {}).get("dagster/data_version"),
        "window": metadata.get("window"),
        "rows": metadata.get("dagster/row_count"),
        "excluded_cancelled_or_diverted": metadata.get("excluded_cancelled_or_diverted"),
        "feature_partitions": metadata.get("feature_partitions", {}),
    }
    return {k: v for k, v in lineage.items() if v is not None}  # BentoML metadata has no None
