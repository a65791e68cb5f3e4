"""A data-quality rule: a name Dagster shows as a check, what happens to data that breaks it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    BLOCK = "block"  # the whole partition is unusable: an ERROR check that blocks downstream
    QUARANTINE = "quarantine"  # offending rows go to quarantine, the rest carry on (WARN check)
    WARN = "warn"  # rows are kept; the check warns


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    description: str


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    failed_rows: frozenset[int]  # row positions in the validated frame; empty for table rules
    passed: bool
    observed: str = ""  # what was seen, for a person reading the check
    columns: tuple[str, ...] = ()  # the columns the failure is about
    could_not_run: bool = False  # the rule raised: no row was judged by it

    @property
    def blocks(self) -> bool:
        """A partition-wide rule failed, or a rule could not run: nothing of the day is judged."""
        return self.could_not_run or (self.rule.action is Action.BLOCK and not self.passed)


# Rules enforced outside Great Expectations because they decide how a row is even read.
COLUMN_TYPES = Rule(
    "column_types", Action.QUARANTINE, "every cell parses as its contract type (number, text, UTC)"
)
DUPLICATE_ROW = Rule(
    "duplicate_row", Action.QUARANTINE, "a row repeated verbatim in one file is kept once"
)


def shown(value: object) -> str:
    """A cell value as a person should read it in a reason: `'abc'`, `-5.0`, `None`."""
    if hasattr(value, "item"):  # numpy scalars print as np.float64(...) otherwise
        value = value.item()
    return repr(value)
