"""Each suggested change alone, at c=16: what-if servers (whatif.py) on Redis, one change each,
all of them, and BentoML's `workers: 2` (BENTOML_CONFIG_OVERRIDES) without and with them.

    python -m benchmarks.serving.ablation [--data /tmp/bench] [--seconds 10]

Run after `python -m benchmarks.serving` (it reuses `<data>/serving_home` and its bodies); the
Redis project is filled again and dropped at the end. Results: `<data>/results/
serving_ablation.json`. "none" is the service as it is, through the what-if wrapper.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, save, table
from benchmarks.serving import homes, load, watch
from benchmarks.serving.__main__ import WHATIF, base_env, env
from benchmarks.serving.report import NOISY_CORES, others
from benchmarks.serving.servers import Server, started

ALL = "notrace,flushthread"
# (label, BENCH_WHATIF, BentoML workers)
VARIANTS = [("none", "", 1), ("notrace", "notrace", 1), ("flushthread", "flushthread", 1),
            ("all", ALL, 1), ("workers=2", "", 2), ("all, workers=2", ALL, 2)]  # fmt: skip


def run(data: Path, day: date, project: str, seconds: float) -> dict[str, Any]:
    target = data / "serving_home"
    bodies = target / "bodies.jsonl"
    redis = homes.redis_store(project)
    homes.prepare_redis(target, redis, day)
    homes.lineup(target, challenger=False)
    folder = target / "watch"
    out: dict[str, Any] = {"seconds_per_cell": seconds, "variants": {}}
    try:
        for label, changes, workers in VARIANTS:
            subprocess.run(["rm", "-rf", str(folder)], check=True)
            folder.mkdir()
            workers_env = json.dumps({"services": {"flight_delay": {"workers": workers}}})
            server = Server(f"whatif-{label.replace(', ', '-')}", WHATIF,
                            {**base_env(target), **env(redis), "BENCH_WHATIF": changes,
                             "BENCH_WATCH_DIR": str(folder),
                             "BENTOML_CONFIG_OVERRIDES": workers_env})  # fmt: skip
            with started(server, target) as running:
                load.measure(running, bodies, 16, 2)
                began = time.time()
                cell = load.measure(running, bodies, 16, seconds)
                window = [(16, began, time.time())]
                time.sleep(1.2)
            out["variants"][label] = {**cell, "stalls": watch.per_cell(folder, window)}
    finally:
        homes.drop_redis(target, redis)
    return out


def markdown(result: dict[str, Any]) -> str:
    base = result["variants"]["none"]
    rows = [{"changes": name, "rps": c["rps"], "x none": c["rps"] / base["rps"],
             "p50 ms": c["p50_ms"], "p99 ms": c["p99_ms"], "errors": c["errors"],
             "server CPU ms/req": c["server_cpu_ms_per_request"],
             "full GCs (ms)": f"{c['stalls']['16']['gc2']['count']} "
             f"({c['stalls']['16']['gc2']['total_ms']:.0f})",
             "flushes in requests (max ms)": f"{c['stalls']['16']['flush']['in_request_thread']}"
             f" ({c['stalls']['16']['flush']['max_ms']:.0f})",
             "cores server/wrk/redis/others": f"{c['cores']['server']:.2f}/"
             f"{c['cores']['wrk']:.2f}/{c['cores']['redis']:.2f}/{others(c):.2f}"}
            for name, c in result["variants"].items()]  # fmt: skip
    noisy = [name for name, c in result["variants"].items() if others(c) > NOISY_CORES]
    note = f"\nNoisy (other processes on more than {NOISY_CORES} cores): {noisy}" if noisy else ""
    return "## What-if, one change at a time (Redis, c=16)\n" + table(rows) + note


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 7, 15))
    parser.add_argument("--project", default="flightpath_bench")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    result = run(args.data, args.day, args.project, args.seconds)
    print("saved", save(args.data, "serving_ablation", result))
    print(markdown(result))


if __name__ == "__main__":
    main()
