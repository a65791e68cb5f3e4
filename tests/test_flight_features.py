"""flight_features: equal to an independent brute-force recomputation, and free of leakage."""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.features.build import build_flight_features
from resources.lake import Lake

DAY = date(2013, 1, 18)
FEATURES = [
    "origin_scheduled_departures_hour", "origin_departures_1h", "origin_dep_delay_mean_1h",
    "origin_departures_3h", "origin_dep_delay_mean_3h", "carrier_arrivals_7d",
    "carrier_late_rate_7d", "carrier_late_rate_30d", "route_arrivals_30d", "route_late_rate_7d",
    "route_late_rate_30d", "tail_prev_arr_delay", "tail_prev_arrival_utc", "temp",
    "humid", "visib", "plane_seats",
]  # fmt: skip


def _lake_frame(lake: Lake, table: str, first: date, last: date) -> pd.DataFrame:
    days = pd.date_range(first, last).date
    return pd.concat([lake.read_partition(table, d) for d in days], ignore_index=True)


def _brute_force(target: pd.Series, history: pd.DataFrame, weather: pd.DataFrame,
                 planes: pd.DataFrame) -> dict[str, object]:  # fmt: skip
    """The same definitions, one flight at a time, written the obvious way in pandas."""
    t = target["sched_dep_utc"]
    others = history[history["flight_id"] != target["flight_id"]]
    out: dict[str, object] = {}
    same_hour = history["sched_dep_utc"].dt.floor("h") == t.floor("h")
    out["origin_scheduled_departures_hour"] = int(
        (same_hour & (history["origin"] == target["origin"])).sum()
    )
    departed = others[(others["origin"] == target["origin"]) & others["dep_delay"].notna()]
    for hours in (1, 3):
        window = departed[(departed["dep_utc"] >= t - pd.Timedelta(hours=hours))
                          & (departed["dep_utc"] < t)]  # fmt: skip
        out[f"origin_departures_{hours}h"] = len(window)
        out[f"origin_dep_delay_mean_{hours}h"] = window["dep_delay"].mean() if len(window) else None
    landed = others[others["arr_delay"].notna()]
    for days in (7, 30):
        recent = landed[
            (landed["arr_utc"] >= t - pd.Timedelta(days=days)) & (landed["arr_utc"] < t)
        ]
        by_carrier = recent[recent["carrier"] == target["carrier"]]
        by_route = recent[
            (recent["origin"] == target["origin"]) & (recent["dest"] == target["dest"])
        ]
        out[f"carrier_late_rate_{days}d"] = (by_carrier["arr_delay"] > 15).mean()
        out[f"route_late_rate_{days}d"] = (
            (by_route["arr_delay"] > 15).mean() if len(by_route) else None
        )
        if days == 7:
            out["carrier_arrivals_7d"] = len(by_carrier)
        else:
            out["route_arrivals_30d"] = len(by_route)
    tail = landed[(landed["tailnum"] == target["tailnum"]) & (landed["arr_utc"] < t)
                  & (landed["arr_utc"] >= t - pd.Timedelta(days=30))]  # fmt: skip
    previous = tail.sort_values("arr_utc").tail(1)
    out["tail_prev_arr_delay"] = previous["arr_delay"].iloc[0] if len(previous) else None
    out["tail_prev_arrival_utc"] = previous["arr_utc"].iloc[0] if len(previous) else None
    known = weather[(weather["origin"] == target["origin"])
                    & (weather["time_hour"] + pd.Timedelta(hours=1) < t)]  # fmt: skip
    latest = known.sort_values("time_hour").tail(1)
    for column in ("temp", "humid", "visib"):
        out[column] = latest[column].iloc[0] if len(latest) else None
    plane = planes[planes["tailnum"] == target["tailnum"]]
    out["plane_seats"] = plane["seats"].iloc[0] if len(plane) else None
    return out


def _as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as seconds since the epoch (NaN for none), everything else as floats."""
    out = frame.copy()
    when = pd.to_datetime(out["tail_prev_arrival_utc"], utc=True)
    out["tail_prev_arrival_utc"] = (when - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return out.astype("float64")


def test_sql_equals_brute_force_on_random_flights(january_lake: Lake) -> None:
    features = build_flight_features(january_lake, DAY, DAY).set_index("flight_id")
    history = _lake_frame(january_lake, "flights", date(2013, 1, 1), DAY)
    weather = _lake_frame(january_lake, "weather", date(2013, 1, 1), DAY)
    planes = january_lake.read_table("raw_planes")
    targets = history[history["flight_date"] == pd.Timestamp(DAY)]
    assert len(features) == len(targets)

    sample = targets.sample(n=250, random_state=7)
    expected = pd.DataFrame(
        [_brute_force(row, history, weather, planes) for _, row in sample.iterrows()],
        index=sample["flight_id"],
    )
    actual = features.loc[sample["flight_id"], FEATURES]
    pd.testing.assert_frame_equal(
        _as_numbers(actual),
        _as_numbers(expected[FEATURES]),
        check_names=False,
        check_index_type=False,
    )


@pytest.fixture
def mutable_lake(january_lake: Lake, tmp_path: Path) -> Lake:
    lake = Lake(root=str(tmp_path))
    for table in ("flights", "weather"):
        for day in pd.date_range(date(2013, 1, 1), DAY).date:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    lake.write_table("raw_planes", january_lake.read_table("raw_planes"))
    return lake


def _rewrite(lake: Lake, table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    for day in pd.date_range(date(2013, 1, 1), DAY).date:
        lake.write_partition(table, day, change(lake.read_partition(table, day)))


def test_events_after_t_never_change_a_feature(mutable_lake: Lake) -> None:
    cut = pd.Timestamp(f"{DAY}T17:00Z")  # the targets are flights scheduled at or before `cut`
    before = build_flight_features(mutable_lake, DAY, DAY)
    before = before[before["sched_dep_utc"] <= cut].set_index("flight_id")

    def change_later_events(flights: pd.DataFrame) -> pd.DataFrame:
        flights = flights.copy()
        late_dep = flights["dep_utc"] >= cut
        flights.loc[late_dep, "dep_delay"] += 90
        flights.loc[late_dep, "dep_utc"] += pd.Timedelta(minutes=90)
        late_arr = flights["arr_utc"] >= cut
        flights.loc[late_arr, "arr_delay"] = 400.0
        flights.loc[late_arr, "arr_utc"] += pd.Timedelta(minutes=400)
        # Flights scheduled in a later hour that had not left by the cut: deleted. (Deleting one
        # in a target's own hour would change a published schedule, which is known before T.)
        later_hour = flights["sched_dep_utc"].dt.floor("h") > cut.floor("h")
        unseen = later_hour & ~(flights["dep_utc"] < cut)
        return flights[~unseen]

    def change_later_weather(weather: pd.DataFrame) -> pd.DataFrame:
        weather = weather.copy()
        unavailable = weather["time_hour"] + pd.Timedelta(hours=1) >= cut
        weather.loc[unavailable, ["temp", "humid", "visib"]] = [120.0, 1.0, 0.0]
        return weather

    _rewrite(mutable_lake, "flights", change_later_events)
    _rewrite(mutable_lake, "weather", change_later_weather)
    after = build_flight_features(mutable_lake, DAY, DAY).set_index("flight_id")
    assert len(before) > 300
    pd.testing.assert_frame_equal(after.loc[before.index], before)


def test_an_event_before_t_changes_what_it_should(mutable_lake: Lake) -> None:
    before = build_flight_features(mutable_lake, DAY, DAY).set_index("flight_id")
    target = before[before["origin_departures_1h"] > 0].iloc[len(before) // 3]
    t = target["sched_dep_utc"]

    def add_departure_and_landing(flights: pd.DataFrame) -> pd.DataFrame:
        if not (flights["flight_date"] == pd.Timestamp(DAY)).any():
            return flights
        extra = flights.iloc[[0]].copy()
        extra["flight_id"] = "ZZ1-NEW"
        extra["carrier"], extra["origin"], extra["dest"] = "ZZ", target["origin"], "ZZZ"
        extra["tailnum"] = target["tailnum"]
        extra["dep_delay"], extra["dep_utc"] = 120.0, t - pd.Timedelta(minutes=20)
        extra["arr_delay"], extra["arr_utc"] = 95.0, t - pd.Timedelta(minutes=5)
        extra["sched_dep_utc"] = t - pd.Timedelta(hours=2, minutes=20)
        return pd.concat([flights, extra], ignore_index=True)

    _rewrite(mutable_lake, "flights", add_departure_and_landing)
    after = build_flight_features(mutable_lake, DAY, DAY).set_index("flight_id").loc[target.name]

    assert after["origin_departures_1h"] == target["origin_departures_1h"] + 1
    n = target["origin_departures_1h"]
    expected_mean = (target["origin_dep_delay_mean_1h"] * n + 120.0) / (n + 1)
    assert np.isclose(after["origin_dep_delay_mean_1h"], expected_mean)
    assert after["tail_prev_arr_delay"] == 95.0
    assert after["tail_prev_arrival_utc"] == t - pd.Timedelta(minutes=5)
    # Another carrier and route: their histories are untouched.
    assert after["carrier_arrivals_7d"] == target["carrier_arrivals_7d"]
    assert after["route_arrivals_30d"] == target["route_arrivals_30d"]
