"""The full-range feature build writes exactly what the asset writes one partition at a time."""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from assets.features import flight_features
from assets.features.range_build import write_flight_features
from assets.features.range_materialization import CONTENT_VERSION
from assets.metadata import file_version
from flightpath.duckdb_settings import MEMORY_VARIABLE
from resources.lake import Lake

FIRST, LAST = date(2013, 1, 14), date(2013, 1, 20)
DAYS = list(pd.date_range(FIRST, LAST).date)
FEATURES = "flight_features"


def _copy_inputs(source: Lake, root: Path) -> Lake:
    lake = Lake(root=str(root))
    for table in ("flights", "weather"):
        for day in pd.date_range("2013-01-01", LAST).date:
            lake.write_partition(table, day, source.read_partition(table, day))
    lake.write_table("raw_planes", source.read_table("raw_planes"))
    return lake


def _columns(path: str) -> list[tuple[str, str]]:
    """Each Parquet column's name and physical type. (Writers annotate differently: pyarrow
    leaves INT64 bare and spells UTC "Etc/UTC"; the values read back are compared in full.)"""
    return [(c.name, c.physical_type) for c in pq.ParquetFile(path).schema]


def _rows(path: str) -> pd.DataFrame:
    with duckdb.connect() as connection:
        return connection.execute(f"FROM read_parquet('{path}') ORDER BY flight_id").df()


def _files(lake: Lake) -> list[str]:
    table = Path(lake.root) / FEATURES
    return sorted(str(p.relative_to(table)) for p in table.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def per_partition(january_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The `flight_features` asset run for each day of FIRST..LAST, as Dagster would."""
    lake = _copy_inputs(january_lake, tmp_path_factory.mktemp("daily"))
    for day in DAYS:
        context = dg.build_asset_context(partition_key=day.isoformat())
        flight_features.flight_features(context, lake=lake)
    return lake


# One query over the range, and the range cut into runs of a day or two (each with its own
# history): every day's file is the same.
@pytest.mark.parametrize("chunk_flights", [10**9, 2000])
def test_full_range_equals_the_per_partition_build(
    per_partition: Lake, january_lake: Lake, tmp_path: Path, chunk_flights: int
) -> None:
    lake = _copy_inputs(january_lake, tmp_path)
    rows = write_flight_features(lake, FIRST, LAST, chunk_flights)

    assert _files(lake) == [f"date={day}/part-0.parquet" for day in DAYS]
    assert not any((tmp_path / ".staging").glob("*"))
    for day in DAYS:
        ours = str(lake.partition_path(FEATURES, day))
        theirs = str(per_partition.partition_path(FEATURES, day))
        assert _columns(ours) == _columns(theirs)
        expected = _rows(theirs)
        assert rows[day] == len(expected) > 0
        # Row for row, read as every reader of the lake reads it: the same values and the same
        # missing values, no tolerance.
        pd.testing.assert_frame_equal(_rows(ours), expected, check_exact=True)


def test_a_backfill_of_the_range_is_one_run_with_every_day_materialised(
    per_partition: Lake, january_lake: Lake, tmp_path: Path
) -> None:
    lake = _copy_inputs(january_lake, tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    # What a backfill under the single-run policy launches: one run tagged with the range.
    result = dg.materialize(
        [flight_features.flight_features], instance=instance, resources={"lake": lake},
        tags={"dagster/asset_partition_range_start": FIRST.isoformat(),
              "dagster/asset_partition_range_end": LAST.isoformat()},
    )  # fmt: skip

    assert result.success
    events = {str(e.partition): e for e in result.asset_materializations_for_node(FEATURES)}
    assert sorted(events) == [day.isoformat() for day in DAYS]
    key = dg.AssetKey(FEATURES)
    assert instance.get_materialized_partitions(key) == set(events)
    assert _files(lake) == _files(per_partition)
    for day in DAYS:
        ours = lake.partition_path(FEATURES, day)
        expected = _rows(str(per_partition.partition_path(FEATURES, day)))
        pd.testing.assert_frame_equal(_rows(str(ours)), expected, check_exact=True)
        metadata = events[day.isoformat()].metadata
        assert metadata["dagster/row_count"].value == len(expected)
        assert metadata[CONTENT_VERSION].value == file_version(ours).value
        assert metadata["days_written"].value == len(DAYS)


def test_rebuilding_replaces_every_partition_whole(january_lake: Lake, tmp_path: Path) -> None:
    lake = _copy_inputs(january_lake, tmp_path)
    lake.write_partition(FEATURES, LAST, pd.DataFrame({"stale": [1, 2, 3]}))

    write_flight_features(lake, LAST, LAST)

    assert _files(lake) == [f"date={LAST}/part-0.parquet"]
    assert "stale" not in lake.read_partition(FEATURES, LAST).columns


def test_a_failed_build_leaves_the_lake_as_it_was(january_lake: Lake, tmp_path: Path) -> None:
    lake = _copy_inputs(january_lake, tmp_path)
    before = pd.DataFrame({"kept": [1]})
    lake.write_partition(FEATURES, LAST, before)
    (tmp_path / "raw_planes.parquet").unlink()  # the query cannot run without it

    with pytest.raises(Exception, match="raw_planes"):
        write_flight_features(lake, FIRST, LAST)

    assert _files(lake) == [f"date={LAST}/part-0.parquet"]
    pd.testing.assert_frame_equal(lake.read_partition(FEATURES, LAST), before)
    assert not any((tmp_path / ".staging").glob("*"))


@pytest.mark.parametrize(("configured", "expected"), [(None, "3.7 GiB"), ("1GB", "953.6 MiB")])
def test_duckdb_memory_limit_comes_from_the_environment(
    configured: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if configured is None:
        monkeypatch.delenv(MEMORY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(MEMORY_VARIABLE, configured)
    with Lake(root=str(tmp_path)).connect() as connection:
        row = connection.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row == (expected,)
