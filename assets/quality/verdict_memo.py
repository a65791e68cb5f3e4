"""The verdicts this process reached last, so that a landed day's rules run once, not per step.

The raw step judges a day to report its checks; the validation step then judges the raw
partition again to split its rows. The rules are a pure function of the rows, the day and the
reference tables, so when both steps run in one process (the CLI, the in-process executor) the
second step is given the first step's verdict. Only an identical input is a hit: same columns,
dtypes and values (pandas `equals`), same day, same references. Anything else is judged afresh.

A caller about to run many days in one process (the CLI's ingestion) judges them together first
(`remember`): a suite run costs the same for a day or a month, and each day's runs then find
their verdict here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import pandas as pd

from assets.quality.verdict import Verdict

BATCH_DAYS = 31  # the most days a caller judges ahead at once
T = TypeVar("T")
# A batch of days' flights and weather, with room for the day after.
KEPT_VERDICTS = 2 * BATCH_DAYS + 4


@dataclass(frozen=True)
class _Entry:
    rows: pd.DataFrame  # a private copy: the caller's frame may change after it was judged
    verdict: Verdict


_recent: OrderedDict[Hashable, _Entry] = OrderedDict()


def remembered_verdict(
    table: str,
    raw: pd.DataFrame,
    day: date,
    references: Hashable,
    judge: Callable[[], Verdict],
) -> Verdict:
    """`judge()`'s verdict on `raw`, or the one this process reached on identical input.

    The verdict is shared between the steps that ask: they read it and never change it.
    """
    key = (table, day, references, _fingerprint(raw))
    entry = _recent.get(key)
    if entry is not None and _identical(entry.rows, raw):
        _recent.move_to_end(key)
        return entry.verdict
    rows = raw.copy()
    verdict = judge()
    _keep(key, _Entry(rows, verdict))
    return verdict


def remember(
    table: str, raw: pd.DataFrame, day: date, references: Hashable, verdict: Verdict
) -> None:
    """Keep a verdict reached elsewhere (a batch of days) for `remembered_verdict` to find."""
    _keep((table, day, references, _fingerprint(raw)), _Entry(raw.copy(), verdict))


def _keep(key: Hashable, entry: _Entry) -> None:
    _recent[key] = entry
    _recent.move_to_end(key)
    while len(_recent) > KEPT_VERDICTS:
        _recent.popitem(last=False)


def batches_ahead(days: Sequence[T]) -> dict[T, list[T]]:
    """The days to judge ahead, by the day before whose run they are judged: `BATCH_DAYS` at a
    time, so that a batch is still remembered when its last day runs."""
    return {days[i]: list(days[i : i + BATCH_DAYS]) for i in range(0, len(days), BATCH_DAYS)}


def forget_verdicts() -> None:
    _recent.clear()


def _fingerprint(frame: pd.DataFrame) -> Hashable:
    """Cheap and order-sensitive; a collision only costs the full comparison in `_identical`."""
    try:
        values = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    except TypeError:  # cells pandas cannot hash (lists, dicts): compare shape alone
        values = b""
    return tuple(map(str, frame.columns)), tuple(map(str, frame.dtypes)), frame.shape, values


def _identical(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    return (
        list(left.columns) == list(right.columns)
        and left.dtypes.equals(right.dtypes)
        and left.index.equals(right.index)
        and left.equals(right)
    )
