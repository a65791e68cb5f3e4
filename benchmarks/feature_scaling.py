"""The full-range feature build at 1x, 3x, 10x and 30x the real year: ours against the previous one.

    python -m benchmarks.feature_scaling [--data /tmp/bench] [--scales 1,3,10,30]
        [--previous-up-to 10]

The lakes are `<data>/real` and `<data>/x<N>` (prepare_lake.py --scale N). Each measurement runs
in a fresh process (wall time; peak RSS = the child's VmHWM, also watched from outside and
stopped past BENCH_MAX_RSS_GIB):
  * ours: `write_flight_features(lake, 2013-01-01, 2013-12-31)`: DuckDB bounded by
    FLIGHTPATH_DUCKDB_MEMORY (default 4GB) and the machine's cores, the year's partitions
    written with `COPY … TO` into the lake;
  * previous: the one-shot build as it was at PREVIOUS_COMMIT: that commit's SQL (read with
    `git show`), DuckDB's default settings (memory limit 80% of RAM), the year fetched into
    pandas with `.df()`. Run up to `--previous-up-to` (at 30x it stopped at the 16 GiB cap).
The 1-minute load average is recorded before and after each measurement, and each child's CPU
seconds (user + system, imports included): on a shared machine wall times are only comparable
within a run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from assets.features.build import DAY_FLIGHTS
from assets.features.range_build import write_flight_features
from benchmarks.common import DEFAULT_DATA, emit, home, measure, peak_rss_mib, save, table
from benchmarks.feature_build import END, START
from flightpath.duckdb_settings import DuckDBSettings
from flightpath.models.features import LATE_MINUTES
from resources.lake import Lake

MODULE = "benchmarks.feature_scaling"
PREVIOUS_COMMIT = "e044865"  # the build before the full-range COPY (issue 14.3)
ROOT = Path(__file__).resolve().parent.parent


def child_ours(lake_root: str) -> dict[str, Any]:
    lake = Lake(root=lake_root)
    started = time.perf_counter()
    rows = write_flight_features(lake, START, END)
    seconds = time.perf_counter() - started
    settings = DuckDBSettings.from_environment()
    return {
        "rows": sum(rows.values()),
        "partitions": len(rows),
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "cpu_s": _cpu_seconds(),
        "duckdb_memory_limit": settings.memory_limit,
        "duckdb_threads": settings.threads or os.cpu_count(),
    }


def child_previous(lake_root: str) -> dict[str, Any]:
    lake = Lake(root=lake_root)
    template = subprocess.run(
        ["git", "show", f"{PREVIOUS_COMMIT}:assets/features/flight_features.sql"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    sql = template.format(
        flights=lake.scan("flights"),
        weather=lake.scan("weather"),
        planes=f"read_parquet('{lake.table_path('raw_planes')}')",
        targets=DAY_FLIGHTS,
        late_minutes=LATE_MINUTES,
    )
    config: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(Path(tempfile.gettempdir()) / "flightpath-duckdb")
    }
    started = time.perf_counter()
    with duckdb.connect(config=config) as connection:
        frame = connection.execute(sql, {"start": START, "end": END}).df()
    seconds = time.perf_counter() - started
    return {
        "rows": len(frame),
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "cpu_s": _cpu_seconds(),
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process: less sensitive than wall time to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(data: Path, scales: list[int], previous_up_to: int, timeout: float) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for scale in scales:
        lake = home(data, scale) / "lake"
        if not lake.exists():
            print(f"x{scale}: no lake at {lake} (prepare_lake.py --scale {scale}); skipped")
            continue
        ways = ["ours", "previous"] if scale <= previous_up_to else ["ours"]
        for way in ways:
            load_before = os.getloadavg()[0]
            result = measure(MODULE, way, str(lake), timeout=timeout)
            result |= {"scale": scale, "way": way, "load_1m_before": load_before,
                       "load_1m_after": os.getloadavg()[0]}  # fmt: skip
            print(result, flush=True)
            results.append(result)
    columns = ["scale", "way", "rows", "seconds", "cpu_s", "peak_rss_mib", "load_1m_before",
               "load_1m_after", "failed"]  # fmt: skip
    print(table([{c: r.get(c) for c in columns} for r in results]))
    return {"runs": results, "previous_commit": PREVIOUS_COMMIT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scales", default="1,3,10,30")
    parser.add_argument("--previous-up-to", type=int, default=10, help="largest scale")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per measurement")
    args = parser.parse_args()
    if args.child:
        way, lake_root = args.child
        emit(child_ours(lake_root) if way == "ours" else child_previous(lake_root))
        return
    scales = [int(s) for s in args.scales.split(",")]
    result = run(args.data, scales, args.previous_up_to, args.timeout)
    print("saved", save(args.data, "feature_scaling", result))


if __name__ == "__main__":
    main()
