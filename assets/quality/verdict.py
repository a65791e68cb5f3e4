"""Splitting one landed partition into valid rows and quarantined rows, with the reasons."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from assets.quality.conform import conform
from assets.quality.gx_bridge import run_suite
from assets.quality.suites import (
    FLIGHT_DERIVED,
    FLIGHT_RULES,
    WEATHER_DERIVED,
    WEATHER_RULES,
    flights_suite,
    weather_suite,
)
from assets.quality.timestamps import add_flight_times, local_date
from flightpath.quality.contracts import FLIGHTS, SOURCE_FILE, SOURCE_ROW, WEATHER, Contract
from flightpath.quality.rules import COLUMN_TYPES, DUPLICATE_ROW, Rule, RuleOutcome

if TYPE_CHECKING:
    import great_expectations as gx

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
    return judge_table(
        raw,
        FLIGHTS,
        derive=lambda frame: add_flight_times(frame, airport_timezones),
        suite=flights_suite(day, carriers, airport_timezones),
        rules=FLIGHT_RULES,
        derived=FLIGHT_DERIVED,
    )


def judge_weather(raw: pd.DataFrame, day: date) -> Verdict:
    return judge_table(
        raw,
        WEATHER,
        derive=lambda frame: frame.assign(flight_date=local_date(frame)),
        suite=weather_suite(day),
        rules=WEATHER_RULES,
        derived=WEATHER_DERIVED,
    )


def judge_table(
    raw: pd.DataFrame,
    contract: Contract,
    derive: Callable[[pd.DataFrame], pd.DataFrame],
    suite: gx.ExpectationSuite,
    rules: Sequence[Rule],
    derived: list[str],
) -> Verdict:
    """Type `raw` by `contract`, add the `derived` columns, run `suite`, split valid from
    quarantined rows: every use case's tables are judged by this one function."""
    raw = raw.reset_index(drop=True)
    conformed = conform(raw, contract)
    typed = conformed.frame
    present = [c for c in contract.columns if c in typed.columns]
    columns = present + (derived if not conformed.missing else [])
    frame = derive(typed) if not conformed.missing else typed
    duplicate = typed.duplicated(subset=present, keep="first").to_numpy()

    # Exact repeats are set aside first so that the key-uniqueness rule only sees real conflicts.
    checked = pd.concat([frame[columns], raw[conformed.extra]], axis=1)[~duplicate]
    report = run_suite(checked, suite, rules)

    reasons: dict[int, list[str]] = defaultdict(list)
    for row, problems in conformed.problems.items():
        reasons[row].extend(f"{COLUMN_TYPES.name}: {p}" for p in problems)
    first_seen = (
        typed[present].reset_index().groupby(present, dropna=False)["index"].transform("min")
    )
    for row in duplicate.nonzero()[0]:
        reasons[int(row)].append(f"{DUPLICATE_ROW.name}: same as row {int(first_seen[row])}")
    for row, problems in report.row_reasons.items():
        reasons[row].extend(problems)

    outcomes = [
        *report.outcomes.values(),
        _outcome(COLUMN_TYPES, conformed.problems.keys()),
        _outcome(DUPLICATE_ROW, duplicate.nonzero()[0]),
    ]
    rejected = sorted(reasons)
    valid = frame.drop(index=rejected)[columns].reset_index(drop=True)
    return Verdict(
        valid=valid,
        quarantine=_quarantine_rows(raw, contract.table, rejected, reasons),
        outcomes=sorted(outcomes, key=lambda o: [r.name for r in rules].index(o.rule.name)),
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
