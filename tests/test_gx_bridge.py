"""A rule that cannot run blocks its partition; a rule that runs and fails quarantines its rows."""

from __future__ import annotations

import dagster as dg
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from assets.partitions import daily_partitions
from assets.quality.gx_bridge import check_results, check_specs, run_suite
from assets.quality.suites import DELAY_IN_RANGE, FLIGHT_RULES

KEY = dg.AssetKey("raw_flights")
SOURCE = "/landing/flights/2013-01-02.parquet"


def _delay_rule_on(column: str) -> gx.ExpectationSuite:
    expectation = gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=-120, max_value=1800, meta={"rule": DELAY_IN_RANGE.name}
    )
    return gx.ExpectationSuite(name=f"delay_on_{column}", expectations=[expectation])


FRAME = pd.DataFrame({"dep_delay": [5.0, 99999.0, -3.0], "carrier": ["UA", "AA", "B6"]})


def test_a_row_rule_that_fails_quarantines_its_rows_and_warns() -> None:
    report = run_suite(FRAME, _delay_rule_on("dep_delay"), FLIGHT_RULES)
    outcome = report.outcomes[DELAY_IN_RANGE.name]
    assert not outcome.passed and not outcome.blocks
    assert outcome.failed_rows == frozenset({1})
    assert report.row_reasons == {1: ["delay_in_range: dep_delay=99999.0"]}
    (result,) = check_results(KEY, [outcome], len(FRAME), SOURCE)
    assert result.severity is dg.AssetCheckSeverity.WARN
    assert result.metadata["source_file"].value == SOURCE
    assert result.metadata["columns"].value == "dep_delay"


def test_a_row_rule_that_cannot_run_blocks_the_partition() -> None:
    # Comparing text with numbers raises inside Great Expectations: no row was judged.
    report = run_suite(FRAME, _delay_rule_on("carrier"), FLIGHT_RULES)
    outcome = report.outcomes[DELAY_IN_RANGE.name]
    assert not outcome.passed and outcome.blocks
    assert outcome.failed_rows == frozenset()
    assert "could not run" in outcome.observed
    (result,) = check_results(KEY, [outcome], len(FRAME), SOURCE)
    assert result.severity is dg.AssetCheckSeverity.ERROR
    assert result.metadata["source_file"].value == SOURCE
    assert result.metadata["columns"].value == "carrier"


def test_every_rule_check_can_block_and_its_severity_decides() -> None:
    # Dagster blocks downstream only on an ERROR result of a blocking check: a quarantine rule's
    # WARN lets the day through, the same rule's ERROR (it could not run) stops it.
    specs = check_specs(KEY, FLIGHT_RULES, daily_partitions)
    assert {spec.name for spec in specs} == {rule.name for rule in FLIGHT_RULES}
    assert all(spec.blocking for spec in specs)
    assert all(spec.partitions_def == daily_partitions for spec in specs)
