"""A circuit breaker: after a run of failures the call is skipped for a while, then probed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class CircuitOpen(Exception):
    """The call failed `failures` times in a row: it is not made until the cooldown ends."""


class CircuitBreaker:
    """Closed: calls go through. Open (after `failures` outages in a row): calls fail at once
    with CircuitOpen for `cooldown` seconds. Then one call probes; success closes the circuit,
    an outage opens it again."""

    def __init__(self, failures: int, cooldown: float) -> None:
        self.failures, self.cooldown = failures, cooldown
        self._in_a_row = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    def call(self, action: Callable[[], T], outages: tuple[type[BaseException], ...]) -> T:
        """`action()`, counting only the `outages` as failures (any other error is a bug)."""
        with self._lock:
            if self._opened_at is not None:
                if self._probing or time.monotonic() < self._opened_at + self.cooldown:
                    raise CircuitOpen(f"skipped: {self._in_a_row} failures in a row")
                self._probing = True  # half-open: this call is the one probe
        try:
            result = action()
        except outages:
            with self._lock:
                self._in_a_row += 1
                if self._probing or self._in_a_row >= self.failures:
                    self._opened_at = time.monotonic()
                self._probing = False
            raise
        except BaseException:
            with self._lock:
                self._probing = False
            raise
        with self._lock:
            self._in_a_row, self._opened_at, self._probing = 0, None, False
        return result
