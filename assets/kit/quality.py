"""A use case's Great Expectations suite, written from its definition: the key and the label's
inputs present, the key unique, numbers in range, categories known."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assets.quality.suites import (
    NO_UNEXPECTED_COLUMNS,
    NOT_EMPTY,
    REQUIRED_COLUMNS,
    _between,
    _in_set,
    _meta,
    _not_null,
    _table_expectations,
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


def usecase_suite(usecase: UseCase) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = [
        *_table_expectations(usecase.contract.required, []),
        *_not_null(REQUIRED_VALUES, [usecase.entity, *usecase.label_source]),
        gxe.ExpectColumnValuesToBeUnique(column=usecase.entity, meta=_meta(KEY_UNIQUE)),
        *(_between(IN_RANGE, name, low, high) for name, (low, high) in usecase.ranges.items()),
        *(_in_set(KNOWN_VALUES, name, values) for name, values in usecase.allowed.items()),
    ]
    return gx.ExpectationSuite(name=f"{usecase.name}_suite", expectations=expectations)
