"""What a command leaves on stderr: nothing that is not the user's concern."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.serving import ROOT

# A training set from the Feast store in a fresh interpreter, as `flightpath train` reads it.
READ_TRAINING_SET = """
import sys
from datetime import date
from assets.features.feature_store import flight_labels
from feature_repo.store import open_store
from flightpath.models.features import LABEL
from resources.lake import Lake

home = sys.argv[1]
labels = flight_labels(Lake(root=f"{home}/lake"), date(2013, 1, 16), date(2013, 1, 16))
store = open_store(home)
frame = store.get_historical_features(
    entity_df=labels.dropna(subset=[LABEL]).head(50),
    features=store.get_feature_service("delay_model_training"),
).to_df()
print(len(frame))
"""


def test_reading_feast_leaves_no_duckdb_leak_report_at_exit(feature_home: Path) -> None:
    """Feast's DuckDB connection (ibis's default backend) is closed at exit: DuckDB's bindings
    printed dozens of "nanobind: leaked" lines, glued to the next command's output."""
    done = subprocess.run(
        [sys.executable, "-c", READ_TRAINING_SET, str(feature_home)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == 50
    assert "nanobind" not in done.stderr and "leaked" not in done.stderr, done.stderr[-2000:]


def test_loading_the_code_location_and_a_job_prints_no_warning(tmp_path: Path) -> None:
    """What every `flightpath` command does first: Dagster's notes on its preview features and
    on how a job is looked up are not the user's concern, and were printed in the demo."""
    done = subprocess.run(
        [sys.executable, "-c",
         "from apps.ingest import _job; print(type(_job('daily_ingest')).__name__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "FLIGHTPATH_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "JobDefinition"
    assert "Warning" not in done.stderr, done.stderr[-2000:]


def test_training_hides_bentomls_own_pathspec_deprecation_and_nothing_else() -> None:
    """BentoML builds its file patterns with pathspec's deprecated "gitwildmatch" when its build
    config is imported: `flightpath train` printed that note twice, which only BentoML can act
    on. A deprecation raised by anything else still shows."""
    script = (
        "import warnings\n"
        "from feature_repo.store import hide_library_warnings\n"
        "hide_library_warnings()\n"
        "import bentoml._internal.bento.build_config\n"
        "warnings.warn('ours', DeprecationWarning)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default::DeprecationWarning", "-c", script],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gitwildmatch" not in done.stderr, done.stderr[-2000:]
    assert "DeprecationWarning: ours" in done.stderr, done.stderr[-2000:]


def test_a_run_that_opens_a_feast_store_hides_the_libraries_deprecations(tmp_path: Path) -> None:
    """Under `make dev` every run that opened a store printed pathspec's and ibis's deprecation
    notes (18 lines in ten minutes): importing Feast turns every DeprecationWarning on ("once"),
    in front of Python's defaults. Opening a store puts ours back in front; a deprecation raised
    by anything else still shows."""
    script = (
        "import sys, warnings\n"
        "from feature_repo.store import open_store\n"
        "open_store(sys.argv[1])\n"
        "import bentoml._internal.bento.build_config\n"  # as a run meets it through the registry
        "warnings.warn('ours', DeprecationWarning)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gitwildmatch" not in done.stderr, done.stderr[-2000:]
    assert "DeprecationWarning: ours" in done.stderr, done.stderr[-2000:]
