"""One variable, FLIGHTPATH_HOME, holds all of Flightpath's state: where each part of it lives."""

from __future__ import annotations

import os
from pathlib import Path

from flightpath.storage import lake_location

HOME_VARIABLE = "FLIGHTPATH_HOME"
DEFAULT_HOME = ".flightpath"


def data_home() -> Path:
    """The data root: `$FLIGHTPATH_HOME`, or `./.flightpath` relative to the working directory."""
    return Path(os.environ.get(HOME_VARIABLE, DEFAULT_HOME)).resolve()


def landing_root() -> Path:
    return data_home() / "landing"


def lake_root() -> str:
    """The lake: `$FLIGHTPATH_STORAGE_URL/lake` in the production profile, else under the home."""
    return lake_location(data_home())


def bentoml_home(home: Path) -> Path:
    """BENTOML_HOME for `bentoml serve` and `bentoml build`: the same store the assets write."""
    return home / "bentoml"
