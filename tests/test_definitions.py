"""The code location loads, validates, and its graph only changes on purpose."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from assets.groups import IN_LINEAGE_ORDER, REFERENCE
from pipelines.definitions import defs
from usecases import USECASES

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
REPO_ROOT = Path(__file__).parent.parent


def _graph_summary() -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitioned": node.partitions_def is not None,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
        }
    checks = sorted(
        f"{key.asset_key.to_user_string()}:{key.name}"
        + (" (blocking)" if graph.get_check_spec(key).blocking else "")
        for key in graph.asset_check_keys
    )
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(job.name for job in defs.resolve_all_job_defs()),
        "sensors": sorted(sensor.name for sensor in defs.sensors or []),
    }


def test_definitions_match_the_reviewed_snapshot() -> None:
    # To accept a deliberate change: UPDATE_SNAPSHOT=1 pytest tests/test_definitions.py
    summary = _graph_summary()
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    assert summary == json.loads(SNAPSHOT.read_text())


def test_dagster_cli_validates_the_workspace(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "FLIGHTPATH_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_every_check_of_a_partitioned_asset_is_partitioned_as_its_asset() -> None:
    # An unpartitioned check of a daily asset shows "—" per day in the UI: one verdict for all.
    graph = defs.resolve_asset_graph()
    unpartitioned = sorted(
        key.to_user_string()
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).partitions_def != graph.get(key.asset_key).partitions_def
    )
    assert unpartitioned == []


def test_groups_sort_by_name_in_lineage_order() -> None:
    # The UI lists groups by name (natural order); each asset's inputs come from its own group
    # or one listed before it, so a reader follows the data from the top of the list down.
    # Another use case is one group of its own, named after it.
    graph = defs.resolve_asset_graph()
    place = {group: n for n, group in enumerate(IN_LINEAGE_ORDER)}
    place.update(dict.fromkeys(USECASES, 0))
    used = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert used == set(IN_LINEAGE_ORDER) | set(USECASES)
    assert sorted(IN_LINEAGE_ORDER, key=_natural) == list(IN_LINEAGE_ORDER)
    backwards = sorted(
        f"{parent.to_user_string()} ({graph.get(parent).group_name}) -> "
        f"{key.to_user_string()} ({graph.get(key).group_name})"
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
        if place[graph.get(parent).group_name] > place[graph.get(key).group_name]
    )
    assert backwards == []
    reference = {"raw_planes", "raw_airports", "raw_airlines", "airports"}
    assert {k.to_user_string() for k in graph.get_all_asset_keys()
            if graph.get(k).group_name == REFERENCE} == reference  # fmt: skip


def _natural(name: str) -> list[int | str]:
    """The UI's collation of group names: digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
