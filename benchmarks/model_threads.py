"""Training on one thread against every core, alone and beside one busy process.

    python -m benchmarks.model_threads --training-set $FLIGHTPATH_HOME/lake/training_set.parquet
        [--train-end 2013-01-20 --valid-end 2013-01-25 --test-end 2013-01-31] [--rounds 3]

The training set is the `training_set` asset's file (the demo's by default split). For each
round, each condition (the machine as it is; beside a process that keeps one core busy, as the
suite's second pytest worker does) and each thread count (1, the default of
FLIGHTPATH_MODEL_THREADS; every usable core, what LightGBM and torch take by themselves), a fresh
process trains `train_lgbm` and `train_mlp` (CPU) and reports wall and CPU seconds of each.
Medians of the rounds; the raw rounds are in `<data>/results/model_threads.json`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, emit, measure, save, table

MODULE = "benchmarks.model_threads"
BUSY = "while True: pass"  # one core's worth of a Python process's work


def child(path: str, train_end: str, valid_end: str, test_end: str, threads: str) -> dict:
    os.environ["FLIGHTPATH_MODEL_THREADS"] = threads
    import lightgbm  # noqa: F401  (imported here, not inside the timed training)
    import pandas as pd
    import torch

    from flightpath.models.features import FeatureSpec
    from flightpath.models.lgbm import train_lgbm
    from flightpath.models.mlp import train_mlp
    from flightpath.models.splits import Split, split_frame, xy

    frame = pd.read_parquet(path)
    first = pd.Timestamp(frame["event_timestamp"].min()).date()
    ends = (date.fromisoformat(d) for d in (train_end, valid_end, test_end))
    parts = split_frame(frame, Split(first, *ends))
    spec = FeatureSpec.fit(parts["train"])
    train, valid = xy(spec, parts["train"]), xy(spec, parts["valid"])
    result: dict[str, Any] = {"rows": len(train[0])}
    for name, fit in (
        ("lgbm", lambda: train_lgbm(spec, train, valid)),
        ("mlp", lambda: train_mlp(spec, train, valid, device=torch.device("cpu"))),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        fit()
        result[f"{name}_s"] = time.perf_counter() - wall
        result[f"{name}_cpu_s"] = time.process_time() - cpu
    return result


def run(path: Path, ends: list[str], rounds: int) -> dict[str, Any]:
    cores = str(len(os.sched_getaffinity(0)))
    cells: dict[tuple[str, str], list[dict]] = {}
    for _ in range(rounds):
        for condition in ("alone", "beside one busy process"):
            busy = None if condition == "alone" else subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                for threads in ("1", cores):
                    cell = measure(MODULE, str(path), *ends, threads)
                    cells.setdefault((condition, threads), []).append(cell)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    rows = []
    for (condition, threads), results in cells.items():
        row: dict[str, Any] = {"condition": condition, "threads": threads,
                               "rows": results[0].get("rows")}  # fmt: skip
        for key in ("lgbm_s", "lgbm_cpu_s", "mlp_s", "mlp_cpu_s"):
            row[key] = round(statistics.median(r[key] for r in results), 2)
        rows.append(row)
    return {"training_set": str(path), "rounds": rounds, "rows": rows,
            "raw": {f"{c} / {t}": r for (c, t), r in cells.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--training-set", type=Path)
    parser.add_argument("--train-end", default="2013-01-20")
    parser.add_argument("--valid-end", default="2013-01-25")
    parser.add_argument("--test-end", default="2013-01-31")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="where results go")
    args = parser.parse_args()
    if args.child:
        emit(child(*args.child))
        return
    if args.training_set is None:
        parser.error("--training-set is required")
    ends = [args.train_end, args.valid_end, args.test_end]
    result = run(args.training_set, ends, args.rounds)
    print("saved", save(args.data, "model_threads", result))
    print(table(result["rows"]))


if __name__ == "__main__":
    main()
