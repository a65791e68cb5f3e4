"""Work that must not slow a request, batched off the request path: the challenger's shadow.

A request `offer`s its rows and returns at once. One background thread takes what has queued,
up to `max_rows` rows (once a row is there it waits at most `max_wait` seconds for more), and
hands them to `score` in one call: one model call for many requests instead of one each.

The queue holds at most `capacity` rows. When a request's rows do not fit, they are dropped,
all of them, and counted (`on_drop`): under overload the shadow loses rows, the request never
waits. Rows that `score` fails on are counted the same way. `close` scores everything still
queued before it returns (the service calls it at shutdown, before the log's last flush).

`shadow_log_rows` scores such a batch: each row carries its champion's log row and encoded
features, so the challenger's log row differs only in its own fields, and a challenger trained
on the same vocabularies reads the champion's encoded row (encoding and the features' JSON were
most of the shadow's cost per row).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

if TYPE_CHECKING:
    from bentos.champion import Served
    from flightpath.models.features import FeatureSpec

log = logging.getLogger(__name__)
Row = TypeVar("Row")
QUEUE_FULL, SCORING_FAILED, CLOSED = "queue_full", "scoring_failed", "closed"
QUEUE_ROWS_VARIABLE, DEFAULT_QUEUE_ROWS = "FLIGHTPATH_SHADOW_QUEUE_ROWS", 10_000


def shadow_queue_rows() -> int:
    """The queue's capacity from the environment: a whole number of rows, 0 to keep none."""
    text = os.environ.get(QUEUE_ROWS_VARIABLE, str(DEFAULT_QUEUE_ROWS))
    if not text.strip().isdigit():
        raise ValueError(f"{QUEUE_ROWS_VARIABLE} must be a whole number of rows (0 or more), "
                         f"not {text!r}")  # fmt: skip
    return int(text)


class ShadowQueue(Generic[Row]):
    def __init__(
        self,
        score: Callable[[list[Row]], None],
        on_drop: Callable[[str, int], None],
        capacity: int = DEFAULT_QUEUE_ROWS,
        max_rows: int = 512,
        max_wait: float = 0.05,
    ) -> None:
        self._score, self._on_drop = score, on_drop
        self.capacity, self.max_rows, self.max_wait = capacity, max_rows, max_wait
        self._pending: list[Row] = []
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def offer(self, rows: list[Row]) -> bool:
        """Queues `rows` for scoring, or drops and counts them when they do not fit."""
        with self._changed:
            reason = CLOSED if self._closing else None
            if reason is None and len(self._pending) + len(rows) > self.capacity:
                reason = QUEUE_FULL
            if reason is None:
                idle = not self._pending  # the thread waits for a first row
                self._pending.extend(rows)
                if idle or len(self._pending) >= self.max_rows:
                    self._changed.notify()
        if reason is not None:
            self._on_drop(reason, len(rows))
        return reason is None

    def close(self) -> None:
        """Scores every queued row, then stops the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._score(batch)
            except Exception:  # the shadow never takes the service down; the rows are counted
                log.exception("shadow scoring failed for %d rows", len(batch))
                self._on_drop(SCORING_FAILED, len(batch))

    def _next_batch(self) -> list[Row] | None:
        """Up to `max_rows` rows, once one is queued and `max_wait` has passed or enough are
        there; None when closing with nothing left."""
        with self._changed:
            self._changed.wait_for(lambda: self._pending or self._closing)
            deadline = time.monotonic() + self.max_wait
            while len(self._pending) < self.max_rows and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            if not self._pending:
                return None
            batch = self._pending[: self.max_rows]
            del self._pending[: self.max_rows]
            return batch


@dataclass(frozen=True)
class ShadowRow:
    """A row the champion answered, waiting for the challenger of that moment to score it."""

    challenger: Served
    record: dict[str, Any]  # the model inputs, for a challenger whose spec differs
    logged: dict[str, Any]  # the champion's log row of this row
    encoded_by: FeatureSpec
    encoded: np.ndarray  # the champion's matrix row: `encoded_by.rows([record])[0]`


def shadow_log_rows(
    rows: list[ShadowRow],
    predict: Callable[[Served, np.ndarray], np.ndarray],
    answered: Callable[[str, float], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The shadow's log rows, in the order of `rows`: the champion's, with the fields that are
    the challenger's (`answered(tag, probability)`: model, role, score...). One `predict` call
    per challenger (a batch holds two when the challenger changed while it queued)."""
    scored: dict[int, dict[str, Any]] = {}
    for tag in dict.fromkeys(r.challenger.tag for r in rows):
        chosen = [i for i, r in enumerate(rows) if r.challenger.tag == tag]
        challenger = rows[chosen[0]].challenger
        spec = challenger.model.spec
        # Compared once per champion spec in the batch, not once per row.
        encoders = {id(rows[i].encoded_by): rows[i].encoded_by for i in chosen}
        if all(encoder == spec for encoder in encoders.values()):
            matrix = np.stack([rows[i].encoded for i in chosen])
        else:
            matrix = spec.rows([rows[i].record for i in chosen])
        for i, probability in zip(chosen, predict(challenger, matrix), strict=True):
            scored[i] = {**rows[i].logged, **answered(tag, float(probability))}
    return [scored[i] for i in range(len(rows))]
