"""Splitting one landed partition into valid rows and quarantined rows, with the reasons."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

from assets.quality.conform import Conformed, conform
from assets.quality.gx_bridge import SuiteReport, findings, fold, run_suite
from assets.quality.suites import (
    FLIGHT_DERIVED,
    FLIGHT_RULES,
    WEATHER_DERIVED,
    WEATHER_RULES,
    day_columns,
    flights_suite,
    weather_suite,
)
from assets.quality.timestamps import add_flight_times, local_date
from flightpath.quality.contracts import FLIGHTS, SOURCE_FILE, SOURCE_ROW, WEATHER, Contract
from flightpath.quality.rules import COLUMN_TYPES, DUPLICATE_ROW, Action, Rule, RuleOutcome

if TYPE_CHECKING:
    import great_expectations as gx
    import great_expectations.expectations as gxe

K = TypeVar("K")  # what names a file: its day for daily tables

QUARANTINE_TYPES = {
    "table": "string", "source_file": "string", "source_row": "int64",
    "rules": "string", "reason": "string", "record": "string",
}  # fmt: skip
QUARANTINE_COLUMNS = list(QUARANTINE_TYPES)


class PartitionBlockedError(ValueError):
    """The partition breaks a partition-wide rule; nothing of it can be trusted downstream."""


@dataclass
class Verdict:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    outcomes: list[RuleOutcome]
    row_count: int

    @property
    def blocking_failures(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.blocks]

    def raise_if_blocked(self, where: str) -> None:
        """Raise naming `where` (the file), each blocking rule, what it saw and on which columns."""
        if self.blocking_failures:
            details = "; ".join(
                f"{o.rule.name}: {o.observed}"
                + (f" [columns: {', '.join(o.columns)}]" if o.columns else "")
                for o in self.blocking_failures
            )
            raise PartitionBlockedError(f"{where} cannot be validated: {details}")


def judge_flights(
    raw: pd.DataFrame, day: date, carriers: Sequence[str], airport_timezones: Mapping[str, str]
) -> Verdict:
    return judge_flight_days({day: raw}, carriers, airport_timezones)[day]


def judge_flight_days(
    files: Mapping[date, pd.DataFrame],
    carriers: Sequence[str],
    airport_timezones: Mapping[str, str],
) -> dict[date, Verdict]:
    """Each day's flights file judged as if alone, in one run of the row rules."""
    return judge_files(
        files,
        FLIGHTS,
        derive=lambda frame: add_flight_times(frame, airport_timezones),
        suite=flights_suite(carriers, airport_timezones),
        rules=FLIGHT_RULES,
        derived=FLIGHT_DERIVED,
        helpers=lambda frame, day: day_columns(frame, day, "sched_dep_utc"),
    )


def judge_weather(raw: pd.DataFrame, day: date) -> Verdict:
    return judge_weather_days({day: raw})[day]


def judge_weather_days(files: Mapping[date, pd.DataFrame]) -> dict[date, Verdict]:
    return judge_files(
        files,
        WEATHER,
        derive=lambda frame: frame.assign(flight_date=local_date(frame)),
        suite=weather_suite(),
        rules=WEATHER_RULES,
        derived=WEATHER_DERIVED,
        helpers=lambda frame, day: day_columns(frame, day, "time_hour"),
    )


def judge_files(
    files: Mapping[K, pd.DataFrame],
    contract: Contract,
    derive: Callable[[pd.DataFrame], pd.DataFrame],
    suite: gx.ExpectationSuite,
    rules: Sequence[Rule],
    derived: list[str],
    helpers: Callable[[pd.DataFrame, K], pd.DataFrame] | None = None,
) -> dict[K, Verdict]:
    """Type each file by `contract`, add the `derived` columns, run `suite`, split valid from
    quarantined rows: every use case's tables are judged by this one function.

    Each file gets the verdict it would get alone. The file-wide rules (those that block or
    warn) run per file; the row rules (those that quarantine) run once over every complete
    file, with `helpers` adding the columns that tell a row's file apart (never stored). A suite
    run costs about 0.7 s whatever its rows, so a month judged at once costs one, not thirty.
    """
    file_suite, row_suite = _split(suite, {rule.name: rule for rule in rules})
    judged = {key: _Judged.of(raw, contract, derive, derived) for key, raw in files.items()}
    reports = {key: run_suite(j.checked, file_suite, rules) for key, j in judged.items()}
    # A file without every column cannot share a frame with the others: its own run says what
    # could not run on it (and `required_columns` blocks it anyway).
    complete = [key for key, j in judged.items() if not j.conformed.missing]
    for key in judged.keys() - set(complete):
        alone = judged[key].row_frame(helpers, key)
        reports[key] = reports[key].merged(run_suite(alone, row_suite, rules))
    if complete:
        parts = [judged[key].row_frame(helpers, key) for key in complete]
        combined = pd.concat(parts, ignore_index=True)
        found = findings(combined, row_suite)
        start = 0
        for key, part in zip(complete, parts, strict=True):
            labels = dict(zip(range(start, start + len(part)), part.index, strict=True))
            start += len(part)
            mine = [finding.within(labels) for finding in found]
            reports[key] = reports[key].merged(fold(mine, part, rules))
    return {key: judged[key].verdict(reports[key], contract, rules) for key in files}


def _split(
    suite: gx.ExpectationSuite, rules: Mapping[str, Rule]
) -> tuple[gx.ExpectationSuite, gx.ExpectationSuite]:
    """The suite's file-wide expectations, and its row expectations (the quarantining rules)."""
    import great_expectations as gx

    files: list[gxe.Expectation] = []
    rows: list[gxe.Expectation] = []
    for expectation in suite.expectations:
        rule = rules[(expectation.meta or {})["rule"]]
        (rows if rule.action is Action.QUARANTINE else files).append(expectation)
    return (
        gx.ExpectationSuite(name=f"{suite.name}_files", expectations=files),
        gx.ExpectationSuite(name=f"{suite.name}_rows", expectations=rows),
    )


@dataclass
class _Judged:
    """One file typed, derived and stripped of exact repeats, ready for the suite."""

    raw: pd.DataFrame
    conformed: Conformed
    frame: pd.DataFrame  # typed and derived
    columns: list[str]  # what a valid row keeps
    present: list[str]  # the contract's columns the file has
    duplicate: np.ndarray  # rows that repeat an earlier row verbatim
    checked: pd.DataFrame  # what the suite sees: no repeats, the file's extra columns kept

    @classmethod
    def of(
        cls,
        raw: pd.DataFrame,
        contract: Contract,
        derive: Callable[[pd.DataFrame], pd.DataFrame],
        derived: list[str],
    ) -> _Judged:
        raw = raw.reset_index(drop=True)
        conformed = conform(raw, contract)
        typed = conformed.frame
        present = [c for c in contract.columns if c in typed.columns]
        columns = present + (derived if not conformed.missing else [])
        frame = derive(typed) if not conformed.missing else typed
        duplicate = typed.duplicated(subset=present, keep="first").to_numpy()
        # Exact repeats are set aside first so that the key-uniqueness rule only sees real
        # conflicts.
        checked = pd.concat([frame[columns], raw[conformed.extra]], axis=1)[~duplicate]
        return cls(raw, conformed, frame, columns, present, duplicate, checked)

    def row_frame(
        self, helpers: Callable[[pd.DataFrame, K], pd.DataFrame] | None, key: K
    ) -> pd.DataFrame:
        rows = self.checked[self.columns]
        return rows if helpers is None else pd.concat([rows, helpers(rows, key)], axis=1)

    def verdict(self, report: SuiteReport, contract: Contract, rules: Sequence[Rule]) -> Verdict:
        conformed, typed, raw = self.conformed, self.conformed.frame, self.raw
        reasons: dict[int, list[str]] = defaultdict(list)
        for row, problems in conformed.problems.items():
            reasons[row].extend(f"{COLUMN_TYPES.name}: {p}" for p in problems)
        first_seen = (
            typed[self.present]
            .reset_index()
            .groupby(self.present, dropna=False)["index"]
            .transform("min")
        )
        for repeat in self.duplicate.nonzero()[0]:
            reasons[int(repeat)].append(
                f"{DUPLICATE_ROW.name}: same as row {int(first_seen[repeat])}"
            )
        for row, problems in report.row_reasons.items():
            reasons[row].extend(problems)

        outcomes = [
            *report.outcomes.values(),
            _outcome(COLUMN_TYPES, conformed.problems.keys()),
            _outcome(DUPLICATE_ROW, self.duplicate.nonzero()[0]),
        ]
        rejected = sorted(reasons)
        valid = self.frame.drop(index=rejected)[self.columns].reset_index(drop=True)
        order = [r.name for r in rules]
        return Verdict(
            valid=valid,
            quarantine=_quarantine_rows(raw, contract.table, rejected, reasons),
            outcomes=sorted(outcomes, key=lambda o: order.index(o.rule.name)),
            row_count=len(raw),
        )


def _outcome(rule: Rule, rows: object) -> RuleOutcome:
    failed = frozenset(int(r) for r in rows)  # type: ignore[attr-defined]
    return RuleOutcome(rule, failed, not failed, f"{len(failed)} rows" if failed else "")


def _quarantine_rows(
    raw: pd.DataFrame, table: str, rows: list[int], reasons: Mapping[int, list[str]]
) -> pd.DataFrame:
    """One row per rejected source row: which rules, why, and the row itself as landed (JSON)."""
    landed = [c for c in raw.columns if c not in (SOURCE_FILE, SOURCE_ROW)]
    records = []
    for row in rows:
        records.append(
            {
                "table": table,
                "source_file": raw.at[row, SOURCE_FILE] if SOURCE_FILE in raw else None,
                "source_row": int(raw.at[row, SOURCE_ROW]) if SOURCE_ROW in raw else row,
                "rules": ",".join(sorted({r.split(":", 1)[0] for r in reasons[row]})),
                "reason": "; ".join(reasons[row]),
                "record": json.dumps(
                    {c: _json_value(raw.at[row, c]) for c in landed}, sort_keys=True
                ),
            }
        )
    # Typed even when empty, so every partition of the quarantine has the same Parquet schema.
    return pd.DataFrame(records, columns=QUARANTINE_COLUMNS).astype(QUARANTINE_TYPES)


def _json_value(value: object) -> object:
    """A landed cell as plain JSON, kept as close to what arrived as JSON allows."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)
