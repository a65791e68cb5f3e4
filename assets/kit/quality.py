"""A use case's Great Expectations suite, written from its definition: the key and the label's
inputs present, the key unique, numbers in range, categories known; and for a daily feed, every
row on its file's day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assets.quality.suites import (
    NO_UNEXPECTED_COLUMNS,
    NOT_EMPTY,
    ON_PARTITION_DAY,
    REQUIRED_COLUMNS,
    _between,
    _in_set,
    _meta,
    _not_null,
    _table_expectations,
    instant_on_file_day,
)
from flightpath.quality.rules import COLUMN_TYPES, DUPLICATE_ROW, Action, Rule
from flightpath.usecase import UseCase

if TYPE_CHECKING:  # Great Expectations takes seconds to import: only where suites run
    import great_expectations as gx

REQUIRED_VALUES = Rule(
    "required_values_present", Action.QUARANTINE, "the key and the label's inputs are not null"
)
KEY_UNIQUE = Rule("key_unique", Action.QUARANTINE, "one row per key")
IN_RANGE = Rule("in_range", Action.QUARANTINE, "every number within the use case's bounds")
KNOWN_VALUES = Rule("known_values", Action.QUARANTINE, "every category is one the use case knows")

RULES = (
    REQUIRED_COLUMNS, NOT_EMPTY, NO_UNEXPECTED_COLUMNS, COLUMN_TYPES, DUPLICATE_ROW,
    REQUIRED_VALUES, KEY_UNIQUE, IN_RANGE, KNOWN_VALUES,
)  # fmt: skip


def rules(usecase: UseCase) -> tuple[Rule, ...]:
    """The rules the use case's rows are judged by, each a Dagster check."""
    return (*RULES, ON_PARTITION_DAY) if usecase.daily is not None else RULES


def usecase_suite(usecase: UseCase) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    # A feed's row without its instant cannot be put on a day, nor joined at a point in time.
    instant = [usecase.event_time] if usecase.daily is not None and usecase.event_time else []
    expectations = [
        *_table_expectations(usecase.contract.required, []),
        *_not_null(REQUIRED_VALUES, [usecase.entity, *usecase.label_source, *instant]),
        gxe.ExpectColumnValuesToBeUnique(column=usecase.entity, meta=_meta(KEY_UNIQUE)),
        *(_between(IN_RANGE, name, low, high) for name, (low, high) in usecase.ranges.items()),
        *(_in_set(KNOWN_VALUES, name, values) for name, values in usecase.allowed.items()),
        *(instant_on_file_day(column) for column in instant),
    ]
    return gx.ExpectationSuite(name=f"{usecase.name}_suite", expectations=expectations)
