"""The online store never goes back in time, and the skew check judges the day it ran for."""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.features import feature_store, skew
from assets.features.feature_store import ENTITY_VIEWS, end_of_day_utc
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from tests.conftest import FEATURE_DAYS

OLDER, NEWER = FEATURE_DAYS[-2], FEATURE_DAYS[-1]


@pytest.fixture
def home(feature_home: Path, tmp_path: Path) -> Path:
    """The feature home's lake with a registry and an online store of this test's own."""
    shutil.copytree(feature_home / "lake", tmp_path / "lake")
    return tmp_path


def _resources(home: Path) -> dict[str, object]:
    return {
        "lake": Lake(root=str(home / "lake")),
        "landing": LandingZone(root=str(home / "landing")),
        "feature_store": FeatureStoreResource(home=str(home)),
    }


def _materialise(
    resources: dict[str, object], day: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [feature_store.online_features, skew.online_matches_offline],
        partition_key=day,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )


def _online(home: Path, view: str, keys: pd.Series) -> pd.DataFrame:
    """What the online store serves for `keys` of `view`."""
    key, columns = ENTITY_VIEWS[view]
    store = FeatureStoreResource(home=str(home)).store()
    return store.get_online_features(
        features=[f"{view}:{column}" for column in columns],
        entity_rows=[{key: value} for value in keys],
    ).to_df()


def _snapshot(home: Path, view: str, day: str) -> pd.DataFrame:
    key, columns = ENTITY_VIEWS[view]
    lake = Lake(root=str(home / "lake"))
    frame = lake.read_partition(f"online_snapshots/{view}", date.fromisoformat(day))
    return frame[[key, *columns]]


def _assert_serves(home: Path, day: str) -> None:
    """Every key of `day`'s snapshot is served with that snapshot's values."""
    for view, (key, columns) in ENTITY_VIEWS.items():
        expected = _snapshot(home, view, day).set_index(key)
        online = _online(home, view, expected.index.to_series()).set_index(key)[columns]
        for column in columns:
            left, right = online[column], expected[column]
            if pd.api.types.is_datetime64_any_dtype(right):
                as_utc = "datetime64[ns, UTC]"
                left = pd.to_datetime(left, utc=True).astype(as_utc)
                right = pd.to_datetime(right, utc=True).astype(as_utc)
            else:  # the online store answers None for a missing value
                left, right = pd.to_numeric(left).astype(float), right.astype(float)
            pd.testing.assert_series_equal(left, right, check_dtype=False, check_names=False,
                                           obj=f"{view}.{column}")  # fmt: skip


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_an_older_day_never_overwrites_a_newer_snapshot(home: Path) -> None:
    resources = _resources(home)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        newer = _materialise(resources, NEWER, instance)
        assert newer.success and _check(newer).passed
        older = _materialise(resources, OLDER, instance)

        _assert_serves(home, NEWER)
        evaluation = _check(older)
        assert older.success and evaluation.passed, evaluation.metadata
        # Keys the newer snapshot superseded were judged against the newer day, not skipped.
        assert evaluation.metadata["superseded"].value > 0
        assert evaluation.metadata["values_compared"].value > 100
        written = older.asset_materializations_for_node("online_features")[0].metadata
        assert sum(written["kept_newer_online"].value.values()) > 0  # type: ignore[union-attr]


def test_days_in_order_update_the_store(home: Path) -> None:
    resources = _resources(home)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        older = _materialise(resources, OLDER, instance)
        assert older.success and _check(older).passed
        _assert_serves(home, OLDER)
        newer = _materialise(resources, NEWER, instance)
        assert newer.success and _check(newer).passed
        assert _check(newer).metadata["superseded"].value == 0
        _assert_serves(home, NEWER)


def test_a_wrong_online_value_fails_the_run(home: Path) -> None:
    """The check fires: a newer-looking row that is not the offline value fails the day's run."""
    resources = _resources(home)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        store = FeatureStoreResource(home=str(home)).store()
        wrong = _snapshot(home, "origin_congestion", NEWER).assign(
            origin_departures_3h=999, as_of=end_of_day_utc(date.fromisoformat(NEWER))
        )
        store.write_to_online_store("origin_congestion", wrong)

        result = _materialise(resources, OLDER, instance)
        evaluation = _check(result)
        assert not evaluation.passed
        assert {m["feature"] for m in evaluation.metadata["first_mismatches"].value} == {
            "origin_departures_3h"
        }
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
