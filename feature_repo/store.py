"""Open the Feast store of a data home from a profile, without `feast apply`'s working directory."""

import atexit
import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from flightpath.storage import is_remote, lake_location, object_storage

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
    if is_remote(lake_location(Path(home))):
        _read_offline_data_from_the_bucket()
    _close_offline_connection_at_exit()
    return FeatureStore(config=config)


def _read_offline_data_from_the_bucket() -> None:
    """Give the DuckDB connection Feast's offline store reads through (ibis's default backend,
    one per process) the bucket's filesystem, replacing one an earlier store registered."""
    import ibis

    connection = ibis.get_backend().con
    if "s3" in connection.list_filesystems():
        connection.unregister_filesystem("s3")
    connection.register_filesystem(object_storage())


@cache
def _close_offline_connection_at_exit() -> None:
    """Feast's DuckDB offline store reads through ibis's default backend, a DuckDB connection
    ibis opens once and keeps for the process. Left open at exit, DuckDB's bindings reported it
    leaked on stderr, dozens of lines glued to the next command's output; closed, they do not."""
    atexit.register(_close_ibis_default_backend)


def _close_ibis_default_backend() -> None:
    ibis = sys.modules.get("ibis")  # never imported: nothing to close
    if ibis is None or ibis.options.default_backend is None:
        return
    ibis.options.default_backend.disconnect()
    ibis.options.default_backend = None
