"""The README's main command path, as a user runs it: the CLI on a fresh data home."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from resources.home import dagster_home
from tests.readme import readme_materialize_line

REPO_ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLIGHTPATH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_replay_then_ingest_materialises_every_landed_day(tmp_path: Path) -> None:
    replayed = _run(
        [str(BIN / "flightpath"), "replay", "--through", "2013-01-02", "--quiet"], tmp_path
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "landed 7 files" in replayed.stdout

    ingested = _run(
        [str(BIN / "flightpath"), "ingest", "--through", "2013-01-02", "--quiet"], tmp_path
    )
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    assert "materialised 2 days" in ingested.stdout

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        for key in ("raw_flights", "flights", "quarantine_flights", "raw_weather", "weather"):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == {
                "2013-01-01", "2013-01-02",
            }, key  # fmt: skip
        assert instance.get_latest_materialization_event(dg.AssetKey("airports")) is not None

    again = _run([str(BIN / "flightpath"), "ingest", "--through", "2013-01-02"], tmp_path)
    assert again.returncode == 0 and "skipped 2 already done" in again.stdout
    # Without --quiet each stage shows its own bar, named after the job the UI lists.
    assert "reference_ingest: 100%" in again.stderr and "1/1" in again.stderr, again.stderr
    assert "daily_ingest: 100%" in again.stderr and "2/2" in again.stderr, again.stderr

    features = _run(
        [str(BIN / "flightpath"), "features", "--through", "2013-01-02", "--quiet"], tmp_path
    )
    assert features.returncode == 0, features.stdout + features.stderr[-3000:]
    assert "built features for 2 days" in features.stdout
    # Feast's and ibis's warnings about their own APIs are nothing a user of the CLI can act on.
    assert "Warning" not in features.stderr, features.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        for key in ("flight_features", "online_features"):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == {
                "2013-01-01", "2013-01-02",
            }, key  # fmt: skip
        assert instance.get_latest_materialization_event(dg.AssetKey("training_set")) is not None
        skew = dg.AssetCheckKey(dg.AssetKey("online_features"), "online_matches_offline")
        (execution,) = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [skew]
        ).values()
        assert execution.evaluation is not None and execution.evaluation.passed


def test_ingest_with_features_builds_each_day_only_after_it_is_in_the_lake(tmp_path: Path) -> None:
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    replayed = _run([str(BIN / "flightpath"), "replay", "--through", days[-1], "--quiet"], tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    unreadable = tmp_path / "landing" / "flights" / f"{days[1]}.parquet"
    unreadable.write_bytes(b"not parquet")  # a file problem: the day fails, the others go on

    both = _run(
        [str(BIN / "flightpath"), "ingest", "--through", days[-1], "--features", "--quiet"],
        tmp_path,
    )
    assert both.returncode == 1, both.stdout + both.stderr[-3000:]
    assert "materialised 2 days, skipped 0 already done, 1 failed" in both.stdout
    assert "built features for 2 days, skipped 0 already done, 0 failed" in both.stdout
    assert both.stdout.count("UI: make dev") == 1  # one footer for the two summaries
    assert f"{days[1]}.parquet" in both.stderr  # the failed day names its file
    assert "Warning" not in both.stderr, both.stderr[-3000:]

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        for key in ("flights", "flight_features", "online_features"):
            assert instance.get_materialized_partitions(dg.AssetKey(key)) == {
                days[0], days[2],
            }, key  # fmt: skip
        assert instance.get_latest_materialization_event(dg.AssetKey("training_set")) is not None
        # A day's features ran only once its ingestion had finished.
        ingested = _runs_by_day(instance, "daily_ingest")
        built = _runs_by_day(instance, "daily_features")
        assert set(built) == {days[0], days[2]}
        for day, run in built.items():
            assert run.start_time is not None
            assert run.start_time >= ingested[day].end_time, day


def _runs_by_day(instance: dg.DagsterInstance, job: str) -> dict[str, dg.RunRecord]:
    records = instance.get_run_records(dg.RunsFilter(job_name=job))
    return {record.dagster_run.tags["dagster/partition"]: record for record in records}


def test_the_readme_materialize_line_lands_in_the_dev_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a user types it: FLIGHTPATH_HOME (or the default), no DAGSTER_HOME.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("FLIGHTPATH_HOME", str(tmp_path))
    line = readme_materialize_line()
    day = line[line.index("--partition") + 1]
    _run([str(BIN / "flightpath"), "replay", "--through", day, "--quiet"], tmp_path)
    reference = _run_as_user(
        [str(BIN / "flightpath"), "materialize", "--select", "raw_airlines,raw_airports,airports"]
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    daily = _run_as_user([str(BIN / line[0]), *line[1:]])
    assert daily.returncode == 0, daily.stderr[-2000:]
    assert (tmp_path / "lake" / "flights" / f"date={day}" / "part-0.parquet").exists()
    # The run is on the instance `flightpath dev` serves, so the UI shows it.
    with dg.DagsterInstance.from_config(str(dagster_home())) as instance:
        [run] = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": day}))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert day in instance.get_materialized_partitions(dg.AssetKey("flights"))


def test_materialize_without_a_selection_is_refused_at_once() -> None:
    refused = _run_as_user([str(BIN / "flightpath"), "materialize", "--partition", "2013-01-01"])
    assert refused.returncode == 2 and "--select" in refused.stderr


def _run_as_user(args: list[str]) -> subprocess.CompletedProcess[str]:
    """In this process's environment: DAGSTER_HOME only if the test set it."""
    return subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
