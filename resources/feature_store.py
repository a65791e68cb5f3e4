"""The Feast feature store of a data home: its config, its objects, apply."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from flightpath.storage import lake_location

if TYPE_CHECKING:  # importing feast costs seconds: only where a store is used
    from feast import FeatureStore


class FeatureStoreResource(dg.ConfigurableResource):
    """Feast over `$FLIGHTPATH_HOME`: `profile` picks feature_store.yaml or a production variant.

    Its views read the lake at `lake_location(home)`: the bucket when FLIGHTPATH_STORAGE_URL is.

    Variables such as `${FEAST_REDIS}` in the profile come from the environment; the data home
    comes from `home`, so one process can hold stores of several homes (tests do).
    """

    home: str
    profile: str = "feature_store.yaml"
    project: str | None = None  # overrides the profile's project (tests isolate themselves so)

    def store(self) -> "FeatureStore":
        from feature_repo.store import open_store

        return open_store(self.home, self.profile, self.project)

    def objects(self) -> dict[str, Any]:
        from feature_repo.definitions import feast_objects

        return feast_objects(lake_location(Path(self.home)))

    def apply(self) -> list[str]:
        """Register every object of the repo (idempotent: unchanged objects stay as they are)."""
        objects = self.objects()
        self.store().apply(list(objects.values()))
        return sorted(objects)
