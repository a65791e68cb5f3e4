"""Open the Feast store of a data home from a profile, without `feast apply`'s working directory."""

import atexit
import os
import sys
import warnings
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

    hide_library_warnings()  # in every process that opens one: a command, a run, the service
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


def hide_library_warnings() -> None:
    """Notes only a library can act on: Feast's note that on-demand views are experimental, the
    deprecations ibis meets inside DuckDB, and pathspec's deprecation of the patterns BentoML's
    build config makes when it is imported. Importing Feast turns every DeprecationWarning on
    (`simplefilter("once")`, in front of Python's defaults), so they printed in every command and
    run that used a store. Feast is imported first, so these filters go in front of its own; a
    warning raised in this repository's code still shows."""
    import feast  # noqa: F401

    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(ibis|feast)(\.|$)")
    warnings.filterwarnings(
        "ignore", message="On demand feature view is an experimental feature", module="feast"
    )
    warnings.filterwarnings(
        "ignore", message=r"GitWildMatchPattern \('gitwildmatch'\) is deprecated",
        category=DeprecationWarning, module=r"pathspec\.",
    )  # fmt: skip


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
