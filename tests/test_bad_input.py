"""Bad input: every broken landing file in the corpus is rejected, blocked or quarantined exactly.

The judge-level tests run each corpus case through the same steps the `raw_flights` /
`raw_weather` assets take (read, stamp lineage, judge). The end-to-end tests run real Dagster
materialisations over a fresh data home.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets import ingestion, validation
from assets.ingestion import judge_landed_flights, judge_landed_weather
from assets.quality.verdict import QUARANTINE_COLUMNS, PartitionBlockedError, Verdict
from flightpath.landing import LandingFileError
from flightpath.quality.contracts import CONTRACTS, SOURCE_FILE, SOURCE_ROW
from flightpath.quality.rules import Action
from resources.lake import Lake
from resources.landing import LandingZone
from tests.bad_input_corpus import (
    CASES,
    CASES_BY_NAME,
    DAY,
    OTHER_DAY,
    Case,
    Expect,
    Source,
    WrittenCase,
    write_case,
    write_corpus,
)
from tests.conftest import make_resources

JUDGES: dict[str, Callable[[pd.DataFrame, date, Lake], Verdict]] = {
    "flights": judge_landed_flights,
    "weather": judge_landed_weather,
}
FLIGHT_ASSETS = [ingestion.raw_flights, validation.validate_flights]


def _cases(expect: Expect) -> list[object]:
    return [pytest.param(case, id=case.name) for case in CASES if case.expect is expect]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(landed_home: Path) -> Source:
    landing = LandingZone(root=str(landed_home / "landing"))
    return Source(
        flights=landing.read_day("flights", DAY),
        weather=landing.read_day("weather", DAY),
        other_day_flights=landing.read_day("flights", OTHER_DAY),
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, source: Source) -> dict[str, WrittenCase]:
    return write_corpus(tmp_path_factory.mktemp("bad_input_corpus"), source)


@pytest.fixture(scope="module")
def reference_lake(landed_home: Path) -> Lake:
    lake = make_resources(landed_home)["lake"]
    assert isinstance(lake, Lake)
    return lake


def _land(written: WrittenCase) -> pd.DataFrame:
    """What `raw_flights`/`raw_weather` do with the file: read it and stamp lineage columns."""
    landing = LandingZone(root=str(written.landing_root))
    raw = landing.read_day(written.case.table, DAY)
    raw[SOURCE_FILE] = str(landing.day_path(written.case.table, DAY))
    raw[SOURCE_ROW] = range(len(raw))
    return raw


def _judge(written: WrittenCase, lake: Lake) -> tuple[pd.DataFrame, Verdict]:
    raw = _land(written)
    return raw, JUDGES[written.case.table](raw, DAY, lake)


def _failed_rules(verdict: Verdict, action: Action) -> set[str]:
    return {o.rule.name for o in verdict.outcomes if o.rule.action is action and not o.passed}


# --- row fingerprints: which real rows came through validation ----------------------------------


def _numbers(values: pd.Series) -> list[float | None]:
    """Numbers with every kind of missing value as None (NaN would not equal itself)."""
    return [None if pd.isna(value) else float(value) for value in values]


def _fingerprints(frame: pd.DataFrame, table: str) -> Counter[tuple[object, ...]]:
    """One tuple per row, equal for a landed row and the same row once validated (typed)."""
    stamps = pd.to_datetime(frame["time_hour"].astype(str), utc=True, format="ISO8601")
    if table == "flights":
        rows = zip(
            frame["carrier"].astype(str),
            frame["flight"].astype(int),
            frame["origin"].astype(str),
            frame["dest"].astype(str),
            stamps,
            frame["minute"].astype(int),
            _numbers(frame["distance"]),
            _numbers(frame["dep_delay"]),
            _numbers(frame["arr_delay"]),
            strict=True,
        )
    else:
        rows = zip(
            frame["origin"].astype(str),
            stamps,
            _numbers(frame["temp"]),
            _numbers(frame["humid"]),
            _numbers(frame["pressure"]),
            strict=True,
        )
    return Counter(rows)


def _json_cell(value: object) -> object:
    """A landed cell as it should appear in a quarantine record (bytes are not compared)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if pd.isna(value):  # type: ignore[arg-type]
        return None
    return value.item() if hasattr(value, "item") else value


# --- the corpus itself --------------------------------------------------------------------------


def test_corpus_covers_every_kind_of_bad_input(corpus: dict[str, WrittenCase]) -> None:
    assert len(CASES) >= 15
    assert {case.expect for case in CASES} == set(Expect)
    for name, written in corpus.items():
        assert written.path.exists(), name
        assert written.path.relative_to(written.landing_root).as_posix() == written.case.file_name()
    quarantine_rules = {case.rule for case in CASES if case.expect is Expect.QUARANTINE}
    assert {
        "column_types",
        "duplicate_row",
        "required_values_present",
        "distance_in_range",
        "on_partition_day",
        "carrier_known",
        "dest_known",
        "delay_in_range",
        "flight_key_unique",
        "arrival_after_departure",
        "readings_in_range",
        "observation_unique",
        "origin_known",
        "air_time_in_range",
        "calendar_valid",
    } <= quarantine_rules
    weather_rules = {
        c.rule for c in CASES if c.table == "weather" and c.expect is Expect.QUARANTINE
    }
    assert {"required_values_present", "on_partition_day", "calendar_valid"} <= weather_rules
    assert {c.rule for c in CASES if c.expect is Expect.WARN} == {
        "no_unexpected_columns",
        "tailnum_mostly_present",
    }
    # Row cases corrupt a few rows only: almost all of the real day must survive.
    for case in CASES:
        if case.expect is Expect.QUARANTINE:
            assert 0 < len(case.bad_rows) + case.appended <= 3, case.name


# --- files that cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(Expect.ERROR))
def test_unreadable_file_is_rejected_with_a_specific_message(
    case: Case, corpus: dict[str, WrittenCase]
) -> None:
    written = corpus[case.name]
    landed_bytes = written.path.read_bytes()
    landing = LandingZone(root=str(written.landing_root))

    with pytest.raises(LandingFileError) as raised:
        landing.read_day(case.table, DAY)
    message = str(raised.value)
    assert f"{written.path.parent}/{DAY.isoformat()}." in message  # it names the file
    # (The case name is part of the path, so look for the problem in the rest of the message.)
    message = message.replace(str(written.path.parent), "<dir>")
    assert case.error in message
    if case.suffix == ".parquet":
        assert "re-land it and re-run the partition" in message
    else:
        assert written.path.name in message  # and what landed instead
    # Reading does not move or change the file: it waits in the landing zone to be re-landed.
    assert written.path.read_bytes() == landed_bytes


# --- partition-wide problems --------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(Expect.BLOCK))
def test_partition_wide_problem_blocks_the_partition(
    case: Case, corpus: dict[str, WrittenCase], reference_lake: Lake
) -> None:
    _, verdict = _judge(corpus[case.name], reference_lake)

    assert _failed_rules(verdict, Action.BLOCK) == {case.rule}
    # Besides the partition-wide rule, only rules that could not run (their column is missing)
    # block: no row was judged by them.
    blocking = {o.rule.name: o for o in verdict.blocking_failures}
    assert case.rule in blocking
    assert all(o.could_not_run for name, o in blocking.items() if name != case.rule)
    with pytest.raises(PartitionBlockedError) as raised:
        verdict.raise_if_blocked(str(corpus[case.name].path))
    assert f"{case.rule}: " in str(raised.value)
    assert case.error in str(raised.value)
    assert str(corpus[case.name].path) in str(raised.value)


def test_missing_column_is_named_as_missing(
    corpus: dict[str, WrittenCase], reference_lake: Lake
) -> None:
    _, verdict = _judge(corpus["missing_column"], reference_lake)
    (outcome,) = [o for o in verdict.outcomes if o.rule.name == "required_columns"]
    assert "dest" in outcome.observed
    assert "missing" in outcome.observed


@pytest.mark.parametrize("case", _cases(Expect.WARN))
def test_warning_keeps_every_row(
    case: Case,
    corpus: dict[str, WrittenCase],
    source: Source,
    reference_lake: Lake,
) -> None:
    written = corpus[case.name]
    raw, verdict = _judge(written, reference_lake)
    extra = set(raw.columns) - set(CONTRACTS[case.table].columns) - {SOURCE_FILE, SOURCE_ROW}
    assert bool(extra) == (case.rule == "no_unexpected_columns")  # only that case adds one

    assert _failed_rules(verdict, Action.WARN) == {case.rule}
    assert not verdict.blocking_failures
    verdict.raise_if_blocked("extra column")  # does not raise
    assert verdict.quarantine.empty
    assert len(verdict.valid) == written.rows_landed == len(getattr(source, case.table))
    assert not extra & set(verdict.valid.columns)
    assert _fingerprints(verdict.valid, case.table) == _fingerprints(
        getattr(source, case.table), case.table
    )


# --- a few bad rows among good ones -------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(Expect.QUARANTINE))
def test_bad_rows_are_quarantined_and_no_good_row_is_lost(
    case: Case,
    corpus: dict[str, WrittenCase],
    source: Source,
    reference_lake: Lake,
) -> None:
    written = corpus[case.name]
    raw, verdict = _judge(written, reference_lake)
    quarantine = verdict.quarantine
    assert len(raw) == written.rows_landed == verdict.row_count

    # Exactly the corrupted rows, each with the expected rule and a reason naming the column.
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert quarantine["source_row"].tolist() == case.quarantined_rows(written.real_rows)
    row_reasons = case.row_reasons or ("",) * len(quarantine)
    for row, row_reason in zip(quarantine.itertuples(index=False), row_reasons, strict=True):
        assert row_reason in str(row.reason), row.reason
        assert row.table == case.table
        assert row.source_file == str(written.path)
        assert case.rule in str(row.rules).split(","), row.reason
        assert case.reason in str(row.reason), row.reason
        record = json.loads(str(row.record))
        landed = raw.drop(columns=[SOURCE_FILE, SOURCE_ROW]).iloc[int(row.source_row)]
        assert set(record) == set(landed.index)
        for column, value in landed.items():
            assert record[column] == _json_cell(value), (column, record[column], value)

    (outcome,) = [o for o in verdict.outcomes if o.rule.name == case.rule]
    assert not outcome.passed
    assert outcome.rule.action is Action.QUARANTINE
    assert not verdict.blocking_failures

    # No good row is lost: everything landed is either valid or quarantined, and the valid rows
    # are exactly the real day's rows the case left alone.
    assert len(verdict.valid) + len(quarantine) == written.rows_landed
    real = getattr(source, case.table)
    untouched = real.drop(index=list(case.bad_rows))
    assert _fingerprints(verdict.valid, case.table) == _fingerprints(untouched, case.table)
    assert list(verdict.valid.columns[: len(CONTRACTS[case.table].columns)]) == list(
        CONTRACTS[case.table].columns
    )


def test_wrong_encoding_record_keeps_the_bytes_readable(
    corpus: dict[str, WrittenCase], reference_lake: Lake
) -> None:
    _, verdict = _judge(corpus["wrong_encoding"], reference_lake)
    records = [json.loads(r) for r in verdict.quarantine["record"]]
    assert [r["carrier"] for r in records] == ["\\xdc9", "\\xff\\xfe"]


def test_valid_rows_are_typed_by_the_contract(
    corpus: dict[str, WrittenCase], reference_lake: Lake
) -> None:
    # The text-typed distance column comes out numeric; the binary carrier column comes out text.
    _, typed_distance = _judge(corpus["wrong_type"], reference_lake)
    _, typed_carrier = _judge(corpus["wrong_encoding"], reference_lake)
    assert typed_distance.valid["distance"].dtype == "float64"
    assert typed_distance.valid["distance"].gt(0).all()
    assert pd.api.types.is_string_dtype(typed_carrier.valid["carrier"])
    assert typed_carrier.valid["carrier"].map(type).eq(str).all()


# --- end to end, through Dagster ----------------------------------------------------------------


def _materialize(home: Path, day: date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        FLIGHT_ASSETS,
        partition_key=day.isoformat(),
        resources=make_resources(home),
        raise_on_error=False,
    )


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def _lake(home: Path) -> Lake:
    lake = make_resources(home)["lake"]
    assert isinstance(lake, Lake)
    return lake


def _lake_files(home: Path) -> dict[str, bytes]:
    root = home / "lake"
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "flights" in path.relative_to(root).parts[0]
    }


def test_a_corrupt_day_fails_alone(fresh_home: Path, landed_home: Path, source: Source) -> None:
    good_days = [date(2013, 1, 1), date(2013, 1, 3)]
    for day in good_days:
        name = f"flights/{day.isoformat()}.parquet"
        (fresh_home / "landing" / "flights").mkdir(parents=True, exist_ok=True)
        shutil.copy(landed_home / "landing" / name, fresh_home / "landing" / name)
    bad = write_case(CASES_BY_NAME["corrupt_parquet"], source, fresh_home / "landing")
    bad_bytes = bad.path.read_bytes()

    results = {day: _materialize(fresh_home, day) for day in [*good_days, DAY]}

    lake = _lake(fresh_home)
    landing = LandingZone(root=str(fresh_home / "landing"))
    for day in good_days:
        result = results[day]
        assert result.success, day
        assert _materialized(result) == {"raw_flights", "flights", "quarantine_flights"}
        flights = lake.read_partition("flights", day)
        quarantined = lake.read_partition("quarantine_flights", day)
        assert len(flights) > 0
        assert len(flights) + len(quarantined) == len(landing.read_day("flights", day))

    failed = results[DAY]
    assert not failed.success
    assert _materialized(failed) == set()
    failures = failed.get_step_failure_events()
    assert [event.step_key for event in failures] == ["raw_flights"]
    error = failures[0].step_failure_data.error
    assert error is not None
    chain = error.to_string()
    assert "LandingFileError" in chain
    assert "corrupt Parquet file" in chain
    assert str(bad.path) in chain
    assert "re-land it and re-run the partition" in chain
    # Nothing of the bad day reached the lake; the file waits in the landing zone to be re-landed.
    for table in ("raw_flights", "flights", "quarantine_flights"):
        assert not lake.partition_path(table, DAY).exists(), table
    assert bad.path.read_bytes() == bad_bytes


def test_bad_rows_reach_quarantine_and_a_rerun_changes_nothing(
    fresh_home: Path, source: Source
) -> None:
    case = CASES_BY_NAME["negative_distance"]
    written = write_case(case, source, fresh_home / "landing")

    first = _materialize(fresh_home, DAY)
    assert first.success
    assert _materialized(first) == {"raw_flights", "flights", "quarantine_flights"}
    lake = _lake(fresh_home)
    flights = lake.read_partition("flights", DAY)
    quarantined = lake.read_partition("quarantine_flights", DAY)
    assert quarantined["source_row"].tolist() == list(case.bad_rows)
    assert quarantined["rules"].str.split(",").map(lambda rules: case.rule in rules).all()
    assert quarantined["source_file"].eq(str(written.path)).all()
    assert len(flights) == written.rows_landed - len(case.bad_rows)
    assert flights["distance"].gt(0).all()
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks["distance_in_range"] is False
    assert checks["key_unique"] is True
    assert checks["quarantine_share"] is True
    files_before = _lake_files(fresh_home)

    second = _materialize(fresh_home, DAY)
    assert second.success
    files_after = _lake_files(fresh_home)
    assert sorted(files_after) == sorted(files_before)  # no second file in any partition
    assert files_after == files_before  # and each partition was rewritten identically
    pd.testing.assert_frame_equal(lake.read_partition("flights", DAY), flights)
    pd.testing.assert_frame_equal(lake.read_partition("quarantine_flights", DAY), quarantined)
    counts = lake.query(
        f"SELECT count(*) AS n, count(DISTINCT (carrier, flight, origin, sched_dep_utc)) AS keys "
        f"FROM {lake.scan('flights')}"
    )
    assert counts["n"][0] == counts["keys"][0] == len(flights)
    quarantine_rows = lake.query(f"SELECT count(*) AS n FROM {lake.scan('quarantine_flights')}")
    assert quarantine_rows["n"][0] == len(case.bad_rows)


def test_missing_column_fails_the_blocking_check_and_stops_flights(
    fresh_home: Path, source: Source
) -> None:
    written = write_case(CASES_BY_NAME["missing_column"], source, fresh_home / "landing")

    result = _materialize(fresh_home, DAY)

    assert not result.success
    # The file is refused before it reaches the lake: it waits in the landing zone to be re-landed.
    assert _materialized(result) == set()
    failures = result.get_step_failure_events()
    assert [event.step_key for event in failures] == ["raw_flights"]
    error = failures[0].step_failure_data.error
    assert error is not None
    # The failure names the file, the rule and the column.
    assert f"{written.path} cannot be validated: required_columns: " in error.to_string()
    assert "[columns: dest]" in error.to_string()
    started = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert started == ["raw_flights"]  # validate_flights never ran

    evaluations = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey("raw_flights")
    }
    required = evaluations["required_columns"]
    assert required.passed is False
    assert required.severity is dg.AssetCheckSeverity.ERROR
    assert "dest" in str(required.metadata["observed"].value)
    assert required.metadata["columns"].value == "dest"
    assert required.metadata["source_file"].value == str(written.path)
    assert evaluations["not_empty"].passed is True
    assert evaluations["not_empty"].severity is dg.AssetCheckSeverity.ERROR
    assert "flights" not in _materialized(result)
    assert "quarantine_flights" not in _materialized(result)
    lake = _lake(fresh_home)
    for table in ("raw_flights", "flights", "quarantine_flights"):
        assert not lake.partition_path(table, DAY).exists(), table


def test_rules_that_cannot_run_say_why(
    corpus: dict[str, WrittenCase], reference_lake: Lake
) -> None:
    _, verdict = _judge(corpus["missing_column"], reference_lake)
    (outcome,) = [o for o in verdict.outcomes if o.rule.name == "dest_known"]
    assert not outcome.passed
    assert "dest" in outcome.observed
