"""Typing raw rows by their contract, one cell at a time, so a bad cell costs only its own row."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from flightpath.quality.contracts import SOURCE_FILE, SOURCE_ROW, Contract, Kind
from flightpath.quality.rules import shown

INT64_LIMIT = 2.0**63


@dataclass
class Conformed:
    """The raw rows typed by the contract (same index); cells that could not be typed are null."""

    frame: pd.DataFrame
    missing: list[str]
    extra: list[str]
    problems: dict[int, list[str]] = field(default_factory=dict)


def conform(raw: pd.DataFrame, contract: Contract) -> Conformed:
    raw = raw.reset_index(drop=True)
    lineage = {SOURCE_FILE, SOURCE_ROW}
    missing = [column for column in contract.columns if column not in raw.columns]
    extra = [column for column in raw.columns if column not in set(contract.columns) | lineage]
    typed = pd.DataFrame(index=raw.index)
    problems: dict[int, list[str]] = defaultdict(list)
    for column, kind in contract.columns.items():
        if column not in raw.columns:
            continue
        values, bad = _coerce(raw[column], kind)
        typed[column] = values
        for row in np.flatnonzero(bad):
            problems[int(row)].append(
                f"{column}={shown(raw.at[row, column])} is not a valid {kind.value}"
            )
    for column in lineage & set(raw.columns):
        typed[column] = raw[column]
    return Conformed(typed, missing, extra, dict(problems))


def _coerce(values: pd.Series, kind: Kind) -> tuple[pd.Series, np.ndarray]:
    """Typed values and a mask of cells that held something but could not be typed."""
    present = values.notna().to_numpy()
    if kind is Kind.TEXT:
        text = values.map(_as_text, na_action="ignore")
        typed = text.astype("string")
        return typed, present & typed.isna().to_numpy()
    if kind is Kind.UTC_TIMESTAMP:
        stamps = pd.to_datetime(
            values.astype("string"), utc=True, errors="coerce", format="ISO8601"
        )
        # The lake stores microseconds: rows judged distinct here must stay distinct there.
        return stamps.dt.floor("us"), present & stamps.isna().to_numpy()
    numbers = pd.to_numeric(values, errors="coerce")
    bad = present & numbers.isna().to_numpy()
    if kind is Kind.INTEGER:
        # Infinities and numbers past int64 are as unreadable as fractions.
        floats = numbers.astype("float64")
        whole = (floats % 1 == 0) & floats.abs().lt(INT64_LIMIT)
        not_integer = numbers.notna().to_numpy() & ~whole.to_numpy()
        return numbers.where(~not_integer).astype("Int64"), bad | not_integer
    return numbers.astype("float64"), bad


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None  # reported as an invalid cell by the caller
    if isinstance(value, str):
        return value
    return str(value)
