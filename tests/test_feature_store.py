"""Feast in the graph: apply, online round trip, training sets equal to the DuckDB join."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.features import feature_store, skew
from assets.features.build import build_flight_features
from assets.features.feature_store import flight_labels
from assets.monitoring.live_performance import scored_flights
from feature_repo.store import REPO
from feature_repo.transforms import schedule_context
from flightpath.models import features
from flightpath.models.features import LABEL, LATE_MINUTES
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from tests.conftest import FEATURE_DAYS as DAYS


def test_training_set_from_feast_equals_the_duckdb_join(feature_home: Path) -> None:
    lake = Lake(root=str(feature_home / "lake"))
    from_feast = lake.read_table("training_set").set_index("flight_id")

    direct = build_flight_features(lake, date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[-1]))
    flights = pd.concat([lake.read_partition("flights", date.fromisoformat(d)) for d in DAYS])
    labelled = flights.dropna(subset=["arr_delay"])
    direct = direct[direct["flight_id"].isin(labelled["flight_id"])].set_index("flight_id")
    assert len(from_feast) == len(direct) == len(labelled)

    columns = [c for c in direct.columns if c in from_feast.columns and c != "sched_dep_utc"]
    assert len(columns) > 25
    for column in columns:
        left, right = from_feast.loc[direct.index, column], direct[column]
        if pd.api.types.is_numeric_dtype(right):
            pd.testing.assert_series_equal(left.astype("float64"), right.astype("float64"),
                                           check_names=False)  # fmt: skip
        else:
            left, right = left.astype("string"), right.astype("string")
            # Missing on both sides is equal; missing on one side only is a difference.
            same = (left == right).fillna(False) | (left.isna() & right.isna())
            assert same.all(), (column, left[~same].head(), right[~same].head())

    source = labelled.set_index("flight_id").loc[direct.index]
    labels = (source["arr_delay"] > LATE_MINUTES).astype(int).to_numpy()
    assert (from_feast.loc[direct.index, LABEL].to_numpy() == labels).all()
    # The on-demand calendar matches the source's own local hour for every flight.
    hours = source["hour"].to_numpy()
    assert (from_feast.loc[direct.index, "sched_hour_local"].to_numpy() == hours).all()


def test_training_and_live_label_flights_by_one_rule(
    feature_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = date.fromisoformat(DAYS[-1])
    flights = Lake(root=str(feature_home / "lake")).read_partition("flights", day)
    lake = Lake(root=str(tmp_path / "lake"))
    lake.write_partition("flights", day, flights)
    predicted = flights[["flight_id"]].assign(model="lgbm:1", probability=0.5)
    lake.write_partition("batch_predictions", day, predicted)

    def labels() -> tuple[pd.Series, pd.Series]:
        training = flight_labels(lake, day, day).set_index("flight_id")[LABEL]
        live = scored_flights(lake, day).set_index("flight_id")["label"]
        # Cancelled and diverted flights: unlabelled for training, left out live.
        assert set(training.dropna().index) == set(live.index)
        pd.testing.assert_series_equal(
            training.loc[live.index].astype(int), live.astype(int), check_names=False
        )
        return training, live

    _, live = labels()
    late = flights.dropna(subset=["arr_delay"]).set_index("flight_id")["arr_delay"] > 15
    assert (live.to_numpy() == late.loc[live.index].astype(int).to_numpy()).all()
    assert 0 < live.sum() < len(live)
    # Both follow the one definition: moving it moves both.
    monkeypatch.setattr(features, "LATE_MINUTES", 60)
    _, strict = labels()
    assert strict.sum() < live.sum()


def test_online_store_returns_the_snapshot(feature_home: Path) -> None:
    lake = Lake(root=str(feature_home / "lake"))
    day = date.fromisoformat(DAYS[-1])
    aircraft = lake.read_partition("online_snapshots/aircraft", day).dropna(
        subset=["tail_prev_arrival_utc"]
    )
    routes = lake.read_partition("online_snapshots/route_history", day).set_index("route")
    congestion = lake.read_partition("online_snapshots/origin_congestion", day).set_index("origin")
    sample = aircraft.sample(n=5, random_state=3)
    asked_at = pd.Timestamp("2013-01-18T12:00Z")
    rows = [
        {"tailnum": tail, "origin": "JFK", "carrier": "B6", "route": routes.index[0],
         "sched_dep_utc": asked_at}
        for tail in sample["tailnum"]
    ]  # fmt: skip
    store = FeatureStoreResource(home=str(feature_home)).store()
    online = store.get_online_features(
        features=store.get_feature_service("delay_model_serving"), entity_rows=rows
    ).to_df()

    assert list(online["tail_prev_arr_delay"]) == list(sample["tail_prev_arr_delay"])
    assert (online["origin_departures_3h"] == congestion.loc["JFK", "origin_departures_3h"]).all()
    assert (online["route_late_rate_30d"] == routes.iloc[0]["route_late_rate_30d"]).all()
    expected = schedule_context(
        pd.DataFrame({"sched_dep_utc": [asked_at] * 5,
                      "tail_prev_arrival_utc": list(sample["tail_prev_arrival_utc"])})
    )  # fmt: skip
    assert list(online["tail_minutes_since_prev_arrival"]) == list(
        expected["tail_minutes_since_prev_arrival"]
    )
    assert (online["sched_hour_local"] == 7).all()  # 12:00 UTC is 07:00 in New York in January


def test_feast_cli_applies_and_materialises_the_repo(feature_home: Path, tmp_path: Path) -> None:
    feast = str(Path(sys.executable).parent / "feast")
    env = {**os.environ, "FLIGHTPATH_HOME": str(feature_home)}
    applied = subprocess.run([feast, "-c", str(REPO), "apply"], env=env, capture_output=True,
                             text=True, timeout=300, check=False)  # fmt: skip
    assert applied.returncode == 0, applied.stderr[-3000:]
    materialised = subprocess.run(
        [feast, "-c", str(REPO), "materialize", "2013-01-17T00:00:00", "2013-01-19T00:00:00",
         "--views", "carrier_history"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert materialised.returncode == 0, materialised.stderr[-3000:]
    assert "carrier_history" in materialised.stdout


def test_skew_check_in_dagster_passes_on_the_batch_snapshot(feature_home: Path) -> None:
    resources = {
        "lake": Lake(root=str(feature_home / "lake")),
        "landing": LandingZone(root=str(feature_home / "landing")),
        "feature_store": FeatureStoreResource(home=str(feature_home), project="skew_batch"),
    }
    assert dg.materialize([feature_store.feast_registry], resources=resources).success
    result = dg.materialize(
        [feature_store.online_features, skew.online_matches_offline],
        partition_key=DAYS[-1],
        resources=resources,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.metadata
    assert evaluation.metadata["values_compared"].value > 100


def test_snapshot_columns_are_the_feast_views_features(feature_home: Path) -> None:
    # The assets keep their own list (importing Feast at load time costs seconds): keep in step.
    objects = FeatureStoreResource(home=str(feature_home)).objects()
    for view, (key, columns) in feature_store.ENTITY_VIEWS.items():
        definition = objects[view]
        assert [field.name for field in definition.features] == columns, view
        assert objects[definition.entities[0]].join_key == key, view


def test_the_registry_is_applied_by_automation_until_current(feature_home: Path) -> None:
    resources = {"feature_store": FeatureStoreResource(home=str(feature_home))}
    defs = dg.Definitions(assets=[feature_store.feast_registry], resources=resources)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 1  # never applied: requested
        assert dg.materialize(
            [feature_store.feast_registry], instance=instance, resources=resources
        ).success
        later = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert later.total_requested == 0  # applied, same definitions: nothing to do
