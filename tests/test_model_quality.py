"""The champion on the real year: quality against the floor and the baseline, and behaviour.

Trains on January..August, early-stops on September, tests on October..December, through the
same Dagster assets as production. The lake is validated without Dagster runs (365 daily runs
would take a quarter of an hour; ingestion runs are tested elsewhere).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets import delay_models
from assets.features import feature_store
from assets.features.range_build import write_flight_features
from benchmarks.prepare_lake import prepare_real
from flightpath.feed_calendar import FEED
from flightpath.home import bentoml_home
from flightpath.models.features import LABEL
from flightpath.models.registry import CHALLENGER, CHAMPION, DelayModel, ModelRegistry
from flightpath.models.splits import Split, split_frame
from flightpath.replay import replay
from resources.lake import Lake
from resources.landing import LandingZone
from tests.model_data import resources

pytestmark = pytest.mark.slow  # minutes of replay and training: started first

FLOOR_ROC_AUC = 0.74  # issue 4; the goal is 0.78
YEAR = Split(date(2013, 1, 1), date(2013, 8, 31), date(2013, 9, 30), date(2013, 12, 31))


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    data = tmp_path_factory.mktemp("year")
    started = time.perf_counter()
    landing = LandingZone(root=str(data / "landing"))
    replay(landing, date(2013, 12, 31), progress=False)
    prepare_real(data, landing, workers=2, through=None)  # writes data/real/lake
    home = data / "real"
    # One range build of the year: the same files as 365 daily runs (tests/test_range_build.py).
    write_flight_features(Lake(root=str(home / "lake")), FEED.first_day, FEED.last_day)
    result = dg.materialize(
        [feature_store.feast_registry, feature_store.training_set, delay_models.delay_model_lgbm,
         delay_models.delay_model_torch, delay_models.model_evaluation, delay_models.champion],
        resources=resources(home),
    )  # fmt: skip
    print(f"full year prepared and trained in {time.perf_counter() - started:.0f} s")
    return home, result


@pytest.fixture(scope="module")
def registry(year: tuple[Path, dg.ExecuteInProcessResult]) -> ModelRegistry:
    return ModelRegistry(bentoml_home(year[0]))


@pytest.fixture(scope="module")
def test_rows(year: tuple[Path, dg.ExecuteInProcessResult]) -> pd.DataFrame:
    frame = Lake(root=str(year[0] / "lake")).read_table("training_set")
    return split_frame(frame, YEAR)["test"]


def _metrics(result: dg.ExecuteInProcessResult, name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == [name]]
    metadata = event.event_specific_data.materialization.metadata  # type: ignore[union-attr]
    return {key: value.value for key, value in metadata.items()}


def test_lightgbm_is_champion_above_the_floor_and_far_above_the_baseline(
    year: tuple[Path, dg.ExecuteInProcessResult], registry: ModelRegistry
) -> None:
    _, result = year
    assert result.success
    lgbm = _metrics(result, "delay_model_lgbm")
    torch_model = _metrics(result, "delay_model_torch")
    assert lgbm["test_roc_auc"] >= FLOOR_ROC_AUC
    assert lgbm["test_pr_auc"] >= 0.50
    assert torch_model["test_roc_auc"] >= 0.72
    evaluated = _metrics(result, "model_evaluation")
    baseline = evaluated["naive_baseline/roc_auc"]
    assert 0.5 < baseline < 0.62  # the carrier x origin rate: a guess, not a model
    assert lgbm["test_roc_auc"] - baseline > 0.12
    assert registry.alias(CHAMPION) == lgbm["tag"]
    assert registry.alias(CHALLENGER) == torch_model["tag"]


def _champion(registry: ModelRegistry) -> DelayModel:
    tag = registry.alias(CHAMPION)
    assert tag is not None
    return registry.load(tag)


def _predict(model: DelayModel, frame: pd.DataFrame) -> np.ndarray:
    return model.predict(model.spec.matrix(frame))


@pytest.mark.parametrize(
    ("feature", "worse_by"),
    [("origin_dep_delay_mean_1h", 30.0), ("origin_dep_delay_mean_3h", 30.0),
     ("tail_prev_arr_delay", 60.0), ("carrier_late_rate_7d", 0.2)],
)  # fmt: skip
def test_worse_recent_delays_never_lower_the_champions_risk(
    registry: ModelRegistry, test_rows: pd.DataFrame, feature: str, worse_by: float
) -> None:
    model = _champion(registry)
    rows = test_rows.sample(3000, random_state=1)
    worse = rows.assign(**{feature: rows[feature].fillna(0) + worse_by})
    before = _predict(model, rows.assign(**{feature: rows[feature].fillna(0)}))
    after = _predict(model, worse)
    assert (after >= before - 1e-12).all()
    assert after.mean() > before.mean()  # and the feature is used at all


def test_the_challenger_also_rises_with_origin_delays_on_average(
    registry: ModelRegistry, test_rows: pd.DataFrame
) -> None:
    tag = registry.alias(CHALLENGER)
    assert tag is not None
    model = registry.load(tag)
    rows = test_rows.sample(3000, random_state=2)
    worse = rows.assign(origin_dep_delay_mean_3h=rows["origin_dep_delay_mean_3h"].fillna(0) + 45)
    assert _predict(model, worse).mean() > _predict(model, rows).mean() + 0.02


def test_identity_fields_do_not_change_the_prediction(
    registry: ModelRegistry, test_rows: pd.DataFrame
) -> None:
    model = _champion(registry)
    rows = test_rows.sample(1000, random_state=3)
    renamed = rows.assign(
        flight_id="XX0000-EWR-20130101T0000Z",
        tailnum="N00000",
        event_timestamp=pd.Timestamp("2013-01-01", tz="UTC"),
        **{LABEL: 1 - rows[LABEL]},
    )
    assert _predict(model, renamed) == pytest.approx(_predict(model, rows))
    one_by_one = np.concatenate([_predict(model, rows.iloc[[i]]) for i in range(50)])
    assert one_by_one == pytest.approx(_predict(model, rows.iloc[:50]))


def test_obvious_cases(registry: ModelRegistry, test_rows: pd.DataFrame) -> None:
    """A calm early morning against an evening when the airport and the aircraft run late."""
    model = _champion(registry)
    base = test_rows[test_rows["origin"] == "LGA"].iloc[[0]]
    calm = base.assign(
        sched_hour_local=6, origin_dep_delay_mean_1h=-3.0, origin_dep_delay_mean_3h=-2.0,
        tail_prev_arr_delay=-5.0, tail_minutes_since_prev_arrival=600.0, precip=0.0,
        visib=10.0, carrier_late_rate_7d=0.1, route_late_rate_7d=0.1,
    )  # fmt: skip
    meltdown = base.assign(
        sched_hour_local=19, origin_dep_delay_mean_1h=120.0, origin_dep_delay_mean_3h=90.0,
        tail_prev_arr_delay=150.0, tail_minutes_since_prev_arrival=35.0, precip=0.3,
        visib=1.0, carrier_late_rate_7d=0.45, route_late_rate_7d=0.5,
    )  # fmt: skip
    assert _predict(model, calm)[0] < 0.15
    assert _predict(model, meltdown)[0] > 0.6
