"""How many API worker processes serve: FLIGHTPATH_WORKERS, by default one per usable core."""

from __future__ import annotations

import os

WORKERS_VARIABLE = "FLIGHTPATH_WORKERS"


def api_workers() -> int:
    """The cores this process may run on (its CPU affinity), unless FLIGHTPATH_WORKERS says.

    A container's CPU quota is not affinity: where pods share a node's cores, set the variable
    (deploy/k8s sets 1, the replicas scale).
    """
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not text:
        return len(os.sched_getaffinity(0))
    if not text.isdigit() or int(text) < 1:
        raise RuntimeError(f"{WORKERS_VARIABLE} must be a whole number ≥ 1, not {text!r}")
    return int(text)
