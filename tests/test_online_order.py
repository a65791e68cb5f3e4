"""The online store never goes back in time, and the skew check judges the day it ran for."""

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.features import feature_store, skew
from assets.features.feature_store import ENTITY_VIEWS, end_of_day_utc
from assets.partitions import daily_partitions
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from tests.conftest import FEATURE_DAYS
from tests.services import production_feature_store

OLDER, NEWER = FEATURE_DAYS[-2], FEATURE_DAYS[-1]


@pytest.fixture
def home(feature_home: Path, tmp_path: Path) -> Path:
    """The feature home's lake, with a registry and an online store of this test's own."""
    shutil.copytree(feature_home / "lake", tmp_path / "lake")
    return tmp_path


@pytest.fixture
def store(home: Path) -> FeatureStoreResource:
    return FeatureStoreResource(home=str(home))


@pytest.fixture
def redis_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeatureStoreResource]:
    """The production profile: registry in a Postgres database of its own, values in Redis."""
    with production_feature_store(home, monkeypatch, "flightpath_order") as resource:
        yield resource


def _resources(home: Path, store: FeatureStoreResource) -> dict[str, object]:
    return {
        "lake": Lake(root=str(home / "lake")),
        "landing": LandingZone(root=str(home / "landing")),
        "feature_store": store,
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


def _online(store: FeatureStoreResource, view: str, keys: pd.Series) -> pd.DataFrame:
    """What the online store serves for `keys` of `view`."""
    key, columns = ENTITY_VIEWS[view]
    return (
        store.store()
        .get_online_features(
            features=[f"{view}:{column}" for column in columns],
            entity_rows=[{key: value} for value in keys],
        )
        .to_df()
    )


def _snapshot(home: Path, view: str, day: str) -> pd.DataFrame:
    key, columns = ENTITY_VIEWS[view]
    lake = Lake(root=str(home / "lake"))
    frame = lake.read_partition(f"online_snapshots/{view}", date.fromisoformat(day))
    return frame[[key, *columns]]


def _assert_serves(home: Path, store: FeatureStoreResource, day: str) -> None:
    """Every key of `day`'s snapshot is served with that snapshot's values."""
    for view, (key, columns) in ENTITY_VIEWS.items():
        expected = _snapshot(home, view, day).set_index(key)
        online = _online(store, view, expected.index.to_series()).set_index(key)[columns]
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


def _older_after_newer(home: Path, store: FeatureStoreResource) -> None:
    resources = _resources(home, store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        newer = _materialise(resources, NEWER, instance)
        assert newer.success and _check(newer).passed
        older = _materialise(resources, OLDER, instance)

        _assert_serves(home, store, NEWER)
        evaluation = _check(older)
        assert older.success and evaluation.passed, evaluation.metadata
        # Keys the newer snapshot superseded were judged against the newer day, not skipped.
        assert evaluation.metadata["superseded"].value > 0
        assert evaluation.metadata["values_compared"].value > 100
        written = older.asset_materializations_for_node("online_features")[0].metadata
        assert sum(written["kept_newer_online"].value.values()) > 0  # type: ignore[union-attr]


def test_an_older_day_never_overwrites_a_newer_snapshot(
    home: Path, store: FeatureStoreResource
) -> None:
    _older_after_newer(home, store)


def test_an_older_day_never_overwrites_a_newer_snapshot_on_redis(
    home: Path, redis_store: FeatureStoreResource
) -> None:
    _older_after_newer(home, redis_store)


def test_days_in_order_update_the_store(home: Path, store: FeatureStoreResource) -> None:
    resources = _resources(home, store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        older = _materialise(resources, OLDER, instance)
        assert older.success and _check(older).passed
        _assert_serves(home, store, OLDER)
        newer = _materialise(resources, NEWER, instance)
        assert newer.success and _check(newer).passed
        assert _check(newer).metadata["superseded"].value == 0
        _assert_serves(home, store, NEWER)


def test_a_wrong_online_value_fails_the_run(home: Path, store: FeatureStoreResource) -> None:
    """The check fires: a newer-looking row that is not the offline value fails the day's run."""
    resources = _resources(home, store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        wrong = _snapshot(home, "origin_congestion", NEWER).assign(
            origin_departures_3h=999, as_of=end_of_day_utc(date.fromisoformat(NEWER))
        )
        store.store().write_to_online_store("origin_congestion", wrong)

        result = _materialise(resources, OLDER, instance)
        evaluation = _check(result)
        assert not evaluation.passed
        assert {m["feature"] for m in evaluation.metadata["first_mismatches"].value} == {
            "origin_departures_3h"
        }
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE


EMPTY_DAY = "2013-03-31"  # the lake ends on Jan 20: no key flew in the 30 days before it


@dg.asset(partitions_def=daily_partitions, deps=[feature_store.online_features])
def served_from_online_store() -> None:
    """Stands for whatever reads the online store after the day's snapshot."""


def test_the_check_blocks_downstream_on_an_empty_sample_and_not_on_a_full_one(
    home: Path, store: FeatureStoreResource
) -> None:
    resources = _resources(home, store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([feature_store.feast_registry], resources=resources).success
        for day, blocked in ((EMPTY_DAY, True), (NEWER, False)):
            result = dg.materialize(
                [feature_store.online_features, skew.online_matches_offline,
                 served_from_online_store],
                partition_key=day, resources=resources, instance=instance, raise_on_error=False,
            )  # fmt: skip
            evaluation = _check(result)
            assert evaluation.passed is not blocked, evaluation.metadata
            if blocked:
                assert evaluation.metadata["values_compared"].value == 0
            downstream = result.asset_materializations_for_node("served_from_online_store")
            assert bool(downstream) is not blocked and result.success is not blocked
