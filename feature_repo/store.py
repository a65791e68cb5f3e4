"""Open the Feast store of a data home from a profile, without `feast apply`'s working directory."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # importing feast costs seconds: only where a store is opened
    from feast import FeatureStore

REPO = Path(__file__).resolve().parent


def open_store(
    home: str, profile: str = "feature_store.yaml", project: str | None = None
) -> "FeatureStore":
    """`${FLIGHTPATH_HOME}` in the profile is `home`; other `${VARS}` come from the environment."""
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    text = (REPO / profile).read_text().replace("${FLIGHTPATH_HOME}", home)
    raw = yaml.safe_load(os.path.expandvars(text))
    Path(home, "feast").mkdir(parents=True, exist_ok=True)
    if project:
        raw["project"] = project
    config = RepoConfig(**raw)
    config.repo_path = REPO
    return FeatureStore(config=config)
