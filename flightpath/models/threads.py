"""How many threads LightGBM and torch use to train and score in a run: FLIGHTPATH_MODEL_THREADS.

One by default. Both libraries run their loops on OpenMP threads that wait for each other at
every step, so one thread without a free core stalls all of them. On the 2-core VM, with one
other busy process (the suite's second pytest worker, a DuckDB query), January's 17,096 training
rows took LightGBM 0.8 s on one thread and 3 to 27 s on two, and the MLP 1.3 s against 14 to
26 s; the models are the same whatever the threads. On a quiet machine more threads gain less
than that (benchmarks/RESULTS.md, "Model threads"): set the variable (0 = every core this
process may use) on a machine that trains big sets and does nothing else.
"""

from __future__ import annotations

import os

THREADS_VARIABLE = "FLIGHTPATH_MODEL_THREADS"


def model_threads() -> int:
    """The variable's threads; 1 when unset, every usable core for 0; a bad value names it."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return 1
    if not text.isdigit():
        raise RuntimeError(f"{THREADS_VARIABLE} must be a whole number, not {text!r}")
    return int(text) or len(os.sched_getaffinity(0))
