"""The canary: a share of keys the challenger answers instead of the champion, the same keys
every time (a key's hash decides, not a coin toss, so a retry gets the same model)."""

from __future__ import annotations

import hashlib
import math
import os

CANARY_VARIABLE = "FLIGHTPATH_CANARY_FRACTION"


def canary_fraction() -> float:
    """The share from the environment (default 0, no canary), checked: a number in [0, 1]."""
    text = os.environ.get(CANARY_VARIABLE, "0")
    try:
        fraction = float(text)
    except ValueError:
        fraction = math.nan
    if not 0.0 <= fraction <= 1.0:  # also refuses NaN
        raise ValueError(f"{CANARY_VARIABLE} must be a share between 0 and 1, not {text!r}")
    return fraction


def is_canary(key: str, fraction: float) -> bool:
    if fraction <= 0.0:  # no canary: no hash (it cost ~4 µs a key on every shadowed request)
        return False
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < fraction
