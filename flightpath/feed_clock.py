"""The feed clock's one setting: wall seconds per replayed feed day, off unless set.

Read by `flightpath dev` (which sets it) and by the `feed_clock` sensor; kept free of heavy
imports so that the CLI's `--help` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

FEED_SECONDS_VARIABLE = "FLIGHTPATH_FEED_SECONDS"
DEFAULT_FEED_SECONDS = 20  # about what one day's ingestion, features and scoring take on 2 cores


def parse_feed_seconds(text: str) -> int:
    """Whole seconds, at least 1; a clear error otherwise."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r}: give whole seconds per feed day, at least 1")
    return int(text)


def feed_seconds(environ: Mapping[str, str] | None = None) -> int | None:
    """Seconds per feed day from $FLIGHTPATH_FEED_SECONDS; None (no feed clock) when unset."""
    text = (os.environ if environ is None else environ).get(FEED_SECONDS_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return parse_feed_seconds(text)
    except ValueError as error:
        raise ValueError(f"{FEED_SECONDS_VARIABLE}={error}") from None
