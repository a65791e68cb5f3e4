"""The Dagster instance under FLIGHTPATH_HOME (the other paths are `flightpath.home`'s)."""

from __future__ import annotations

from pathlib import Path

from flightpath.home import data_home

# The local instance `flightpath dev` runs on. A user's own dagster.yaml is left alone; one an
# older Flightpath wrote (telemetry only) is brought up to date.
_OLDER_DAGSTER_YAML = "telemetry:\n  enabled: false\n"
DAGSTER_YAML = """telemetry:
  enabled: false
# A run whose process died (kill -9, out of memory) is marked FAILURE within a poll instead of
# staying STARTED forever; its pool slots are freed. Local runs are not resumed: re-execute
# from failure.
run_launcher:
  module: pipelines.run_launcher
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 10
  free_slots_after_run_end_seconds: 5
# The only pool is `online_store` (online_features): one writer of the online store at a time.
concurrency:
  pools:
    default_limit: 1
    granularity: op
"""


def dagster_home() -> Path:
    """Dagster's instance directory; created with Flightpath's dagster.yaml on first use."""
    path = data_home() / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or config.read_text() == _OLDER_DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return path
