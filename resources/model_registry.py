"""The model registry of a data home: BentoML's model store under `$FLIGHTPATH_HOME/bentoml`."""

from pathlib import Path

import dagster as dg

from flightpath.home import bentoml_home
from flightpath.models.registry import ModelRegistry


class ModelRegistryResource(dg.ConfigurableResource):
    """Models and their `champion` / `challenger` aliases; `home` is the data home."""

    home: str

    def registry(self) -> ModelRegistry:
        return ModelRegistry(bentoml_home(Path(self.home)))
