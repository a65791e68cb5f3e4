"""The model registry of a data home: BentoML's model store under `$FLIGHTPATH_HOME/bentoml`."""

from pathlib import Path

import dagster as dg

from flightpath.models.registry import ModelRegistry


def bentoml_home(home: Path) -> Path:
    """BENTOML_HOME for `bentoml serve` and `bentoml build`: the same store the assets write."""
    return home / "bentoml"


class ModelRegistryResource(dg.ConfigurableResource):
    """Models and their `champion` / `challenger` aliases; `home` is the data home."""

    home: str

    def registry(self) -> ModelRegistry:
        return ModelRegistry(bentoml_home(Path(self.home)))
