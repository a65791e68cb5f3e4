"""Full-year point-in-time feature build: DuckDB (the product) against naive pandas.

    python -m benchmarks.feature_build [--data /tmp/bench] [--scale 30] [--sample 2000]

Each measurement runs in a fresh process (wall time, peak RSS of that process):
  * `build_flight_features(lake, 2013-01-01, 2013-12-31)` on the real lake, `--repeat` times;
  * the same on the scaled lake `<data>/x<scale>` (see prepare_lake.py), if it exists, stopped
    after `--scaled-timeout` seconds (default 600);
  * a naive pandas implementation of the same features, one flight at a time (filter the year's
    flights, weather and planes per flight, as tests/test_flight_features.py's brute force
    does), on a random sample of real flights. Its values are compared with DuckDB's.
The naive way's rows/s counts only its per-flight loop (not loading the year), in its favour.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd

from assets.features.build import build_flight_features
from benchmarks.common import DEFAULT_DATA, emit, home, measure, peak_rss_mib, save, table
from flightpath.feed_calendar import FEED
from flightpath.models.features import LATE_MINUTES
from resources.lake import Lake

START, END = FEED.first_day, FEED.last_day
WEATHER = ["temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib"]
FEATURES = [
    "origin_scheduled_departures_hour",
    "origin_departures_1h",
    "origin_dep_delay_mean_1h",
    "origin_departures_3h",
    "origin_dep_delay_mean_3h",
    "carrier_arrivals_7d",
    "carrier_late_rate_7d",
    "carrier_late_rate_30d",
    "route_arrivals_30d",
    "route_late_rate_7d",
    "route_late_rate_30d",
    "tail_prev_arr_delay",
    "tail_prev_arrival_utc",
    *WEATHER,
    "weather_available_at",
    "plane_year",
    "plane_seats",
    "plane_engines",
]


def naive_features(
    targets: pd.DataFrame, flights: pd.DataFrame, weather: pd.DataFrame, planes: pd.DataFrame
) -> pd.DataFrame:
    """Every feature of each target, the obvious way: filter the whole year, flight by flight.

    Only loop-invariant columns are computed once; each flight then scans every row of the
    year's flights and weather with boolean masks.
    """
    hour = flights["sched_dep_utc"].dt.floor("h")
    departed = flights[flights["dep_delay"].notna() & flights["dep_utc"].notna()]
    landed = flights[flights["arr_delay"].notna() & flights["arr_utc"].notna()]
    weather = weather.assign(available_at=weather["time_hour"] + pd.Timedelta(hours=1))
    rows = []
    for _, target in targets.iterrows():
        t, flight_id = target["sched_dep_utc"], target["flight_id"]
        out: dict[str, Any] = {}
        in_hour = flights[hour == t.floor("h")]
        out["origin_scheduled_departures_hour"] = int((in_hour["origin"] == target["origin"]).sum())
        for hours in (1, 3):
            window = departed[
                (departed["dep_utc"] >= t - pd.Timedelta(hours=hours)) & (departed["dep_utc"] < t)
            ]
            window = window[
                (window["origin"] == target["origin"]) & (window["flight_id"] != flight_id)
            ]
            out[f"origin_departures_{hours}h"] = len(window)
            out[f"origin_dep_delay_mean_{hours}h"] = window["dep_delay"].mean()
        for days in (7, 30):
            recent = landed[
                (landed["arr_utc"] >= t - pd.Timedelta(days=days)) & (landed["arr_utc"] < t)
            ]
            recent = recent[recent["flight_id"] != flight_id]
            carrier = recent[recent["carrier"] == target["carrier"]]
            same_route = (recent["origin"] == target["origin"]) & (recent["dest"] == target["dest"])
            route = recent[same_route]
            out[f"carrier_late_rate_{days}d"] = (carrier["arr_delay"] > LATE_MINUTES).mean()
            out[f"route_late_rate_{days}d"] = (route["arr_delay"] > LATE_MINUTES).mean()
            if days == 7:
                out["carrier_arrivals_7d"] = len(carrier)
            else:
                out["route_arrivals_30d"] = len(route)
                # The previous leg: the aircraft's latest landing in the last 30 days.
                tail = recent[recent["tailnum"] == target["tailnum"]].sort_values("arr_utc")
                out["tail_prev_arr_delay"] = tail["arr_delay"].iloc[-1] if len(tail) else None
                out["tail_prev_arrival_utc"] = tail["arr_utc"].iloc[-1] if len(tail) else None
        known = weather[(weather["origin"] == target["origin"]) & (weather["available_at"] < t)]
        latest = known.sort_values("available_at").tail(1)
        for column in [*WEATHER, "available_at"]:
            name = "weather_available_at" if column == "available_at" else column
            out[name] = latest[column].iloc[0] if len(latest) else None
        plane = planes[planes["tailnum"] == target["tailnum"]]
        for column in ("year", "seats", "engines"):
            out[f"plane_{column}"] = plane[column].iloc[0] if len(plane) else None
        rows.append(out)
    return pd.DataFrame(rows, index=targets["flight_id"])


def _scan(lake: Lake, table: str) -> pd.DataFrame:
    return lake.query(
        f"SELECT * FROM {lake.scan(table)} WHERE date BETWEEN $start AND $end",
        {"start": START, "end": END},
    )


def as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as seconds since the epoch, everything as float64 (NaN for missing)."""
    out = frame.copy()
    for column in ("tail_prev_arrival_utc", "weather_available_at"):
        when = pd.to_datetime(out[column], utc=True)
        out[column] = (when - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return out.astype("float64")


def child_duckdb(lake_root: str) -> dict[str, Any]:
    lake = Lake(root=lake_root)
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    features = build_flight_features(lake, START, END)
    seconds = time.perf_counter() - started
    return {
        "rows": len(features),
        "seconds": seconds,
        "rows_per_s": len(features) / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
    }


def child_naive(lake_root: str, sample: int, seed: int) -> dict[str, Any]:
    lake = Lake(root=lake_root)
    started = time.perf_counter()
    flights, weather = _scan(lake, "flights"), _scan(lake, "weather")
    planes = lake.read_table("raw_planes")
    loaded = time.perf_counter() - started
    targets = flights.sample(n=sample, random_state=seed)
    started = time.perf_counter()
    naive = naive_features(targets, flights, weather, planes)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    # Not timed: DuckDB's values for the same flights, to check the two agree.
    duck = build_flight_features(lake, START, END).set_index("flight_id").loc[naive.index]
    left, right = as_numbers(naive[FEATURES]), as_numbers(duck[FEATURES])
    null_mismatch = (left.isna() != right.isna()).sum()
    difference = (left - right).abs().max()
    return {
        "rows": sample,
        "seconds": seconds,
        "rows_per_s": sample / seconds,
        "load_s": loaded,
        "peak_rss_mib": peak,
        "max_abs_diff": float(difference.max()),
        "max_abs_diff_by_feature": {k: float(v) for k, v in difference.items() if v > 0},
        "null_mismatches": int(null_mismatch.sum()),
        "null_mismatches_by_feature": {k: int(v) for k, v in null_mismatch.items() if v},
        "features_compared": len(FEATURES),
        "values_compared": int(left.size),
    }


def run(
    data: Path, scale: int, sample: int, repeat: int, seed: int, scaled_timeout: float
) -> dict[str, Any]:
    module, real = "benchmarks.feature_build", str(home(data) / "lake")
    runs = [measure(module, "duckdb", real) for _ in range(repeat)]
    print("real year, DuckDB:", runs)
    scaled_root = home(data, scale) / "lake"
    scaled = (
        [measure(module, "duckdb", str(scaled_root), timeout=scaled_timeout)]
        if scaled_root.exists()
        else []
    )
    print(f"x{scale}, DuckDB:", scaled)
    naive = measure(module, "naive", real, str(sample), str(seed), timeout=3600)
    print("naive:", naive)
    done = [r for r in runs if "failed" not in r]
    best = min(done, key=lambda r: r["seconds"]) if done else runs[0]
    median = statistics.median(r["seconds"] for r in done) if done else float("nan")
    rows = [
        {"measurement": f"DuckDB, real year (best of {repeat}; median {median:.2f} s)", **best},
        *({"measurement": f"DuckDB, x{scale} year", **r} for r in scaled),
        {"measurement": f"naive pandas, {sample} random real flights", **naive},
    ]
    columns = ["measurement", "rows", "seconds", "rows_per_s", "peak_rss_mib", "failed"]
    print(table([{c: r.get(c) for c in columns} for r in rows]))
    ratio = None
    if "failed" not in best and "failed" not in naive:
        ratio = best["rows_per_s"] / naive["rows_per_s"]
        print(
            f"DuckDB rows/s / naive rows/s = {ratio:,.0f}; max |naive - DuckDB| = "
            f"{naive['max_abs_diff']}; null mismatches = {naive['null_mismatches']}"
        )
    return {"real": runs, "scaled": scaled, "scale": scale, "naive": naive, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scale", type=int, default=30)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--scaled-timeout", type=float, default=600, help="seconds")
    args = parser.parse_args()
    if args.child:
        kind, lake_root, *rest = args.child
        if kind == "duckdb":
            emit(child_duckdb(lake_root))
        else:
            emit(child_naive(lake_root, int(rest[0]), int(rest[1])))
        return
    result = run(args.data, args.scale, args.sample, args.repeat, args.seed, args.scaled_timeout)
    print("saved", save(args.data, "feature_build", result))


if __name__ == "__main__":
    main()
