"""Feast I/O: the full-year point-in-time training set, and batch writes to the online store.

    python -m benchmarks.feast_io [--data /tmp/bench] [--scale 30] [--online-days 7]

(a) Training set: `get_historical_features` with the `delay_model_training` service and the
    entity frame of `flight_labels` (labelled flights of 2013), against a direct DuckDB join of
    the same labels with the lake's `flight_features` table plus the same request-time
    transform (`schedule_context`). Both read the same lake; their values are compared.
    `flight_features` is first built per day into the bench lake, as the asset does, and
    checked against one `build_flight_features` over the whole year (should be identical).
(b) Online writes: `write_to_online_store` of every entity view's end-of-day snapshot
    (`build_snapshot` + `entity_rows`) to the embedded SQLite store, for the last
    `--online-days` days of the real lake and the last day of the scaled lake.
Each measurement runs in a fresh process; times are best and median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from assets.features.build import FLIGHT_FEATURES_SQL, build_flight_features, build_snapshot
from assets.features.feature_store import (
    ENTITY_VIEWS,
    LABEL,
    end_of_day_utc,
    entity_rows,
    flight_labels,
)
from benchmarks.common import (
    DEFAULT_DATA,
    compare_frames,
    emit,
    home,
    measure,
    peak_rss_mib,
    save,
    table,
)
from feature_repo.transforms import schedule_context
from flightpath.entity_views import TRAINING_SERVICE
from flightpath.feed_calendar import FEED
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake

START, END = FEED.first_day, FEED.last_day
MARKER = ".flight_features.json"
TRAINING_SQL = """
SELECT e.*, f.* EXCLUDE (flight_id, sched_dep_utc, flight, tailnum, weather_available_at, date)
FROM entities e
LEFT JOIN {features} f
    ON f.flight_id = e.flight_id
    AND f.sched_dep_utc <= e.event_timestamp
    AND f.sched_dep_utc > e.event_timestamp - INTERVAL 1 DAY  -- the view's ttl
"""


def _build_day(day: date, lake_root: str) -> int:
    lake = Lake(root=lake_root)
    features = build_flight_features(lake, day, day)
    lake.write_partition("flight_features", day, features)
    return len(features)


def prepare_features(lake: Lake, workers: int) -> dict[str, Any]:
    """The `flight_features` partitions of every day that has flights, as the asset writes them."""
    marker = Path(lake.root) / MARKER
    version = hashlib.sha256(FLIGHT_FEATURES_SQL.encode()).hexdigest()[:12]
    if marker.exists() and json.loads(marker.read_text()).get("sql") == version:
        summary: dict[str, Any] = json.loads(marker.read_text())
        return summary
    shutil.rmtree(Path(lake.root) / "flight_features", ignore_errors=True)
    days = sorted(date.fromisoformat(p.name[5:]) for p in (Path(lake.root) / "flights").iterdir())
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(_build_day, days, [lake.root] * len(days), chunksize=8))
    summary = {
        "sql": version,
        "partitions": len(days),
        "rows": sum(rows),
        "workers": workers,
        "seconds": time.perf_counter() - started,
    }
    marker.write_text(json.dumps(summary))
    return summary


def daily_versus_range(lake: Lake) -> dict[str, Any]:
    """The per-day partitions (what Feast reads) against one `build_flight_features` of the year."""
    year = build_flight_features(lake, START, END)
    daily = lake.query(f"SELECT * EXCLUDE (date) FROM {lake.scan('flight_features')}")
    return compare_frames(_by_key(daily), _by_key(year), key="flight_id")


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("flight_id").reset_index(drop=True)


def _entities(lake: Lake) -> pd.DataFrame:
    return flight_labels(lake, START, END).dropna(subset=[LABEL]).reset_index(drop=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["event_timestamp", "flight_id"]).reset_index(drop=True)


def child_training(way: str, data_home: str, out: str) -> dict[str, Any]:
    lake = Lake(root=str(Path(data_home) / "lake"))
    started = time.perf_counter()
    entities = _entities(lake)
    labels_s = time.perf_counter() - started
    store = FeatureStoreResource(home=data_home).store() if way == "feast" else None
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    if store is not None:
        service = store.get_feature_service(TRAINING_SERVICE)
        frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    else:
        joined = lake.query(
            TRAINING_SQL.format(features=lake.scan("flight_features")),
            frames={"entities": entities},
        )
        frame = pd.concat([joined, schedule_context(joined)], axis=1)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    _sorted(frame).to_parquet(out)
    return {
        "rows": len(frame),
        "columns": len(frame.columns),
        "seconds": seconds,
        "rows_per_s": len(frame) / seconds,
        "labels_s": labels_s,
        "peak_rss_mib": peak,
        "peak_rss_before_join_mib": rss_before,
    }


def child_online(data_home: str, days: list[date]) -> dict[str, Any]:
    lake = Lake(root=str(Path(data_home) / "lake"))
    store = FeatureStoreResource(home=data_home).store()
    keys = dict.fromkeys(ENTITY_VIEWS, 0)
    seconds = dict.fromkeys(ENTITY_VIEWS, 0.0)
    snapshot_s = 0.0
    for day in days:
        as_of = end_of_day_utc(day)
        started = time.perf_counter()
        snapshot = build_snapshot(lake, as_of)
        snapshot_s += time.perf_counter() - started
        for view, (key, columns) in ENTITY_VIEWS.items():
            frame = entity_rows(snapshot, key, columns, as_of)
            started = time.perf_counter()
            store.write_to_online_store(view, frame)
            seconds[view] += time.perf_counter() - started
            keys[view] += len(frame)
    views = [
        {"view": v, "keys": keys[v], "seconds": seconds[v], "keys_per_s": keys[v] / seconds[v]}
        for v in ENTITY_VIEWS
    ]
    total_keys, total_s = sum(keys.values()), sum(seconds.values())
    return {
        "days": [d.isoformat() for d in days],
        "views": views,
        "keys": total_keys,
        "write_seconds": total_s,
        "keys_per_s": total_keys / total_s,
        "snapshot_seconds": snapshot_s,
        "peak_rss_mib": peak_rss_mib(),
    }


def run(data: Path, scale: int, repeat: int, online_days: int, workers: int) -> dict[str, Any]:
    module, real = "benchmarks.feast_io", home(data)
    features = prepare_features(Lake(root=str(real / "lake")), workers)
    print("flight_features partitions:", features)
    consistency = daily_versus_range(Lake(root=str(real / "lake")))
    print("per-day partitions vs one full-year build:", consistency)
    started = time.perf_counter()
    FeatureStoreResource(home=str(real)).apply()
    apply_s = time.perf_counter() - started
    out = data / "results"
    out.mkdir(parents=True, exist_ok=True)
    training: dict[str, list[dict[str, Any]]] = {"feast": [], "duckdb": []}
    for _ in range(repeat):
        for way in training:
            path = out / f"training_{way}.parquet"
            training[way].append(_ok(measure(module, "training", way, str(real), str(path))))
    same = compare_frames(
        pd.read_parquet(out / "training_feast.parquet"),
        pd.read_parquet(out / "training_duckdb.parquet"),
        key="flight_id",
    )
    best = {way: min(runs, key=lambda r: r["seconds"]) for way, runs in training.items()}
    median = {way: statistics.median(r["seconds"] for r in runs) for way, runs in training.items()}
    ratio = best["feast"]["seconds"] / best["duckdb"]["seconds"]
    median_ratio = median["feast"] / median["duckdb"]
    columns = ["rows", "seconds", "rows_per_s", "peak_rss_mib", "peak_rss_before_join_mib"]
    rows = [
        {"way": f"{w} (best of {repeat})", "median_s": median[w], **{c: r[c] for c in columns}}
        for w, r in best.items()
    ]
    print(table(rows))
    print(f"Feast / DuckDB time: best {ratio:.2f}, median {median_ratio:.2f}; comparison: {same}")

    last = END - timedelta(days=online_days - 1)
    real_days = [last + timedelta(days=i) for i in range(online_days)]
    online = [_ok(measure(module, "online", str(real), *map(str, real_days)))]
    scaled = home(data, scale)
    if (scaled / "lake").exists():
        FeatureStoreResource(home=str(scaled)).apply()
        online.append(measure(module, "online", str(scaled), END.isoformat()))
    for run_ in online:
        if "failed" in run_:
            print(f"x{scale} online writes: {run_['failed']}")
            continue
        print(run_["days"][0], "..", run_["days"][-1], f"total {run_['write_seconds']:.2f} s")
        print(table(run_["views"]))
    return {
        "flight_features": features,
        "daily_partitions_vs_year_build": consistency,
        "feast_apply_s": apply_s,
        "training": training,
        "ratio_feast_over_duckdb": ratio,
        "median_ratio_feast_over_duckdb": median_ratio,
        "comparison": same,
        "online": online,
        "scale": scale,
    }


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    if "failed" in result:
        raise RuntimeError(f"{result['failed']}\n{result['stderr_tail']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scale", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--online-days", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "training":
            emit(child_training(*rest))
        else:
            emit(child_online(rest[0], [date.fromisoformat(d) for d in rest[1:]]))
        return
    result = run(args.data, args.scale, args.repeat, args.online_days, args.workers)
    print("saved", save(args.data, "feast_io", result))


if __name__ == "__main__":
    main()
