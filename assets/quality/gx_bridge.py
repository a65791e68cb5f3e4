"""Our bridge from Great Expectations 1.x to Dagster: a suite's results become rule outcomes,
the offending rows of each rule, and one asset check per rule."""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from flightpath.quality.rules import Action, Rule, RuleOutcome, shown

if TYPE_CHECKING:  # Great Expectations takes seconds to import: only once a suite runs
    import great_expectations as gx
    from great_expectations.core.batch_definition import BatchDefinition

# GX phones home by default; a pipeline run should not.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass
class SuiteReport:
    outcomes: dict[str, RuleOutcome]
    row_reasons: dict[int, list[str]] = field(default_factory=dict)  # quarantine rules only

    def merged(self, other: SuiteReport) -> SuiteReport:
        """Both reports of one frame, from suites with no rule in common."""
        reasons = defaultdict(list, {row: list(r) for row, r in self.row_reasons.items()})
        for row, problems in other.row_reasons.items():
            reasons[row].extend(problems)
        return SuiteReport({**self.outcomes, **other.outcomes}, dict(reasons))


@functools.cache
def _dataframe_batches() -> BatchDefinition:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("flightpath").add_dataframe_asset("partition")
    return asset.add_batch_definition_whole_dataframe("whole_partition")


@dataclass(frozen=True)
class Finding:
    """One expectation's result: its rule, the columns it is about and the rows it rejected."""

    rule: str
    columns: tuple[str, ...]
    success: bool
    rows: tuple[int, ...] = ()  # index labels of the unexpected rows (map expectations)
    error: str | None = None  # the expectation could not run
    observed: str = ""  # what a table expectation saw

    def within(self, rows: dict[int, int]) -> Finding:
        """This row finding restricted to `rows` (label -> label there): one file of a batch."""
        if self.error or not self.rows:  # not about rows: it holds for every file alike
            return self
        kept = tuple(rows[row] for row in self.rows if row in rows)
        return Finding(self.rule, self.columns, not kept, kept)


def findings(frame: pd.DataFrame, suite: gx.ExpectationSuite) -> list[Finding]:
    """Validate `frame` (its index labels identify rows): one finding per expectation."""
    batch = _dataframe_batches().get_batch(batch_parameters={"dataframe": frame})
    validation = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    found = []
    for result in validation.results:
        config = result.expectation_config
        assert config is not None  # a suite's results always carry their expectation
        # `meta.shows` names the columns a person should see when a helper column was compared.
        columns = config.meta.get("shows") or _columns(config.kwargs)
        columns = columns or _table_columns(result.result)
        found.append(
            Finding(
                rule=config.meta["rule"],
                columns=tuple(columns),
                success=bool(result.success),
                rows=tuple(int(r) for r in result.result.get("unexpected_index_list") or []),
                error=_exception_message(result.exception_info),
                observed="" if result.success else _describe_table_result(result.result),
            )
        )
    return found


def run_suite(
    frame: pd.DataFrame, suite: gx.ExpectationSuite, rules: Sequence[Rule]
) -> SuiteReport:
    """Validate `frame` (its index labels identify rows) and fold the results into rule outcomes."""
    return fold(findings(frame, suite), frame, rules)


def fold(found: Sequence[Finding], frame: pd.DataFrame, rules: Sequence[Rule]) -> SuiteReport:
    """Rule outcomes from the findings of the rules' expectations on `frame`."""
    by_name = {rule.name: rule for rule in rules}
    failed: dict[str, set[int]] = defaultdict(set)
    passed: dict[str, bool] = {}
    errored: set[str] = set()
    observed: dict[str, list[str]] = defaultdict(list)
    failing_columns: dict[str, list[str]] = defaultdict(list)
    row_reasons: dict[int, list[str]] = defaultdict(list)
    for finding in found:
        rule, columns = by_name[finding.rule], list(finding.columns)
        passed[rule.name] = passed.get(rule.name, True) and finding.success
        if not finding.success:
            failing_columns[rule.name].extend(
                c for c in columns if c not in failing_columns[rule.name]
            )
        if finding.error:
            # A rule that cannot run judged no row: letting the rows through would fail open.
            errored.add(rule.name)
            observed[rule.name].append(f"could not run on {', '.join(columns)}: {finding.error}")
            continue
        failed[rule.name].update(finding.rows)
        if finding.rows:
            observed[rule.name].append(f"{len(finding.rows)} rows fail on {', '.join(columns)}")
        elif not finding.success:
            observed[rule.name].append(finding.observed)
        if rule.action is Action.QUARANTINE:
            for row in finding.rows:
                values = ", ".join(f"{c}={shown(frame.at[row, c])}" for c in columns)
                row_reasons[row].append(f"{rule.name}: {values}")

    outcomes = {
        name: RuleOutcome(
            by_name[name],
            frozenset(failed[name]),
            ok,
            "; ".join(observed[name]),
            columns=tuple(failing_columns[name]),
            could_not_run=name in errored,
        )
        for name, ok in passed.items()
    }
    return SuiteReport(outcomes, dict(row_reasons))


def _columns(kwargs: dict) -> list[str]:
    """The columns an expectation reads: one, a pair, or a compound key."""
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def _table_columns(result: dict) -> list[str]:
    """The columns a table expectation found missing or unexpected."""
    mismatched = result.get("details", {}).get("mismatched", {})
    return sorted(c for columns in mismatched.values() for c in columns)


def _exception_message(info: dict | None) -> str | None:
    """GX reports a rule that could not run either flat or keyed by metric; find the message."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message"))
    return None


def _describe_table_result(result: dict) -> str:
    mismatched = result.get("details", {}).get("mismatched", {})
    if mismatched:
        return ", ".join(f"{kind}: {sorted(columns)}" for kind, columns in mismatched.items())
    return f"observed {result.get('observed_value')!r}"


def check_specs(
    asset: dg.AssetKey, rules: Sequence[Rule], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    """One Dagster check per rule, partitioned as its asset: the UI shows each day's verdict.
    Every check can block: Dagster blocks downstream only on an ERROR result, which a rule gives
    when it fails partition-wide or cannot run at all."""
    return [
        dg.AssetCheckSpec(
            rule.name,
            asset=asset,
            description=f"{rule.description} [{rule.action.value}]",
            blocking=True,
            partitions_def=partitions_def,
        )
        for rule in rules
    ]


def check_results(
    asset: dg.AssetKey, outcomes: Sequence[RuleOutcome], row_count: int, source_file: str
) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=outcome.rule.name,
            passed=outcome.passed,
            severity=(
                dg.AssetCheckSeverity.ERROR
                if outcome.rule.action is Action.BLOCK or outcome.could_not_run
                else dg.AssetCheckSeverity.WARN
            ),
            metadata={
                "action": outcome.rule.action.value,
                "source_file": dg.MetadataValue.path(source_file),
                "columns": ", ".join(outcome.columns),
                "failed_rows": len(outcome.failed_rows),
                "failed_share": (len(outcome.failed_rows) / row_count) if row_count else 0.0,
                "observed": outcome.observed or "as expected",
            },
        )
        for outcome in outcomes
    ]
