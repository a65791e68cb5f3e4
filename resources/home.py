"""One variable, FLIGHTPATH_HOME, holds all of Flightpath's state."""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "FLIGHTPATH_HOME"
DEFAULT_HOME = ".flightpath"

# Kept out of the way of the user's own Dagster settings: telemetry off, nothing else.
_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def data_home() -> Path:
    """The data root: `$FLIGHTPATH_HOME`, or `./.flightpath` relative to the working directory."""
    return Path(os.environ.get(HOME_VARIABLE, DEFAULT_HOME)).resolve()


def landing_root() -> Path:
    return data_home() / "landing"


def lake_root() -> Path:
    return data_home() / "lake"


def dagster_home() -> Path:
    """Dagster's instance directory; created with a minimal dagster.yaml on first use."""
    path = data_home() / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML)
    return path
