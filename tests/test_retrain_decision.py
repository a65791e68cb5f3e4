"""When the loop retrains: the live ROC-AUC alert, and the retrain sensor on real monitor events."""

from collections.abc import Iterator
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._core.utils import make_new_run_id

from assets.kit.alerts import drift_alerts, judge_live_roc_auc
from flightpath.monitoring.drift import FeatureDrift
from flightpath.run_tags import ALERT_DAY, REASON, THROUGH, TRIGGER
from pipelines.automation import retrain_sensor
from pipelines.jobs import retrain_config
from resources.monitoring import MonitoringPolicy

FEATURES_THROUGH = date(2013, 2, 20)
# Dyadic numbers, so that "exactly at the threshold" is exact in floating point.
DROP = 0.03125
REFERENCE = 0.78125  # the champion's test ROC-AUC; the alert line is 0.75
SIDE = 64  # positives and negatives: ROC-AUC = correctly ordered pairs / 4096


def _scored(correct_pairs: int) -> pd.DataFrame:
    """Live rows (label, probability) whose ROC-AUC is exactly correct_pairs / SIDE**2.

    Negatives score (j + 0.5) / SIDE; a positive scoring c / SIDE outranks exactly c of them.
    """
    per_positive = np.full(SIDE, correct_pairs // SIDE)
    per_positive[: correct_pairs % SIDE] += 1
    return pd.DataFrame(
        {
            "label": np.r_[np.zeros(SIDE, int), np.ones(SIDE, int)],
            "probability": np.r_[(np.arange(SIDE) + 0.5) / SIDE, per_positive / SIDE],
        }
    )


POLICY = MonitoringPolicy(auc_drop=DROP, min_labelled=2 * SIDE)
AT_THE_LINE = _scored(3072)  # ROC-AUC 0.75 = REFERENCE - DROP


def test_frames_have_the_roc_auc_they_claim() -> None:
    assert judge_live_roc_auc(AT_THE_LINE, REFERENCE, POLICY, "w").live == 0.75
    assert judge_live_roc_auc(_scored(3071), REFERENCE, POLICY, "w").live == 3071 / 4096


def test_live_alert_quiet_while_performance_holds() -> None:
    for pairs in (3500, 3200, 3072):  # well above, just above, exactly at the line
        verdict = judge_live_roc_auc(_scored(pairs), REFERENCE, POLICY, "w")
        assert verdict.alerts == [], pairs
        assert "ROC-AUC" in verdict.summary


def test_live_alert_fires_when_performance_drops() -> None:
    for pairs in (3071, 2600, 2048):  # one pair under the line, well under, a coin
        verdict = judge_live_roc_auc(_scored(pairs), REFERENCE, POLICY, "2013-02-14 .. 2013-02-20")
        assert len(verdict.alerts) == 1, pairs
        assert verdict.alerts[0].startswith("live performance: champion ROC-AUC")
        assert "2013-02-14 .. 2013-02-20" in verdict.summary


def test_live_alert_waits_for_min_labelled() -> None:
    coin = _scored(2048)
    waiting = MonitoringPolicy(auc_drop=DROP, min_labelled=len(coin) + 1)
    verdict = judge_live_roc_auc(coin, REFERENCE, waiting, "w")
    assert verdict.alerts == [] and verdict.live is None
    assert "not judged yet" in verdict.summary
    enough = MonitoringPolicy(auc_drop=DROP, min_labelled=len(coin))
    assert judge_live_roc_auc(coin, REFERENCE, enough, "w").alerts


def test_no_champion_score_no_alert() -> None:
    assert judge_live_roc_auc(_scored(2048), None, POLICY, "w").alerts == []


def _drift(feature: str, psi: float) -> FeatureDrift:
    return FeatureDrift(feature, "numeric", psi, 0.3, 0.0, 1000, 1000, 0.0, 0.0)


def test_drift_alerts_on_a_feature_or_the_scores_over_the_line_and_never_on_exempt_ones() -> None:
    policy = MonitoringPolicy(feature_psi=0.25, prediction_psi=0.5)
    quiet = [_drift("dep_hour", 0.25), _drift("temp", 3.1), _drift("probability", 0.5)]
    assert drift_alerts(quiet, "probability", policy, exempt={"temp"}) == []
    loud = [_drift("dep_hour", 0.26), _drift("distance", 0.9), _drift("probability", 0.51)]
    assert drift_alerts([*loud, _drift("temp", 3.1)], "probability", policy, {"temp"}) == [
        "feature drift: distance PSI 0.900 > 0.25",  # the largest first
        "feature drift: dep_hour PSI 0.260 > 0.25",
        "prediction drift: score PSI 0.510 > 0.5",
    ]
    # The scores are judged on the prediction line, not the feature line.
    assert drift_alerts([_drift("probability", 0.4)], "probability", policy) == []


# --- the retrain sensor, in a real ephemeral instance --------------------------------------

LIVE_ALERT = judge_live_roc_auc(_scored(2048), REFERENCE, POLICY, "w").alerts
DRIFT_ALERT = drift_alerts(
    [_drift("origin_dep_delay_mean_3h", 0.6), _drift("probability", 0.01)],
    "probability",
    MonitoringPolicy(),
)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.report_runless_asset_event(
            dg.AssetMaterialization("online_features", partition=FEATURES_THROUGH.isoformat())
        )
        yield test_instance


def _monitor(instance: dg.DagsterInstance, asset: str, day: date, alerts: list[str]) -> None:
    """What feature_drift and live_performance write for a day: its alerts among the metadata."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset,
            partition=day.isoformat(),
            metadata={"alerts": dg.MetadataValue.json(alerts), "summary": "; ".join(alerts)},
        )
    )


def _retrain_run(
    instance: dg.DagsterInstance, through: date, status: dg.DagsterRunStatus
) -> dg.DagsterRun:
    run = dg.DagsterRun(
        job_name="retrain",
        run_id=make_new_run_id(),
        status=status,
        tags={THROUGH: through.isoformat(), "dagster/run_key": f"retrain@{through}"},
    )
    return instance.add_run(run)


def _tick(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"monitoring": MonitoringPolicy()}
    ) as context:  # closed here, not by the garbage collector in a later test
        result = retrain_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_no_alert_no_run(instance: dg.DagsterInstance) -> None:
    _monitor(instance, "live_performance", FEATURES_THROUGH, [])
    _monitor(instance, "feature_drift", FEATURES_THROUGH, [])
    result = _tick(instance)
    assert not result.run_requests
    assert "no monitor reported an alert" in str(result.skip_reason)


def test_a_live_performance_alert_alone_retrains_with_its_reason(
    instance: dg.DagsterInstance,
) -> None:
    _monitor(instance, "feature_drift", FEATURES_THROUGH, [])
    _monitor(instance, "live_performance", FEATURES_THROUGH, LIVE_ALERT)
    result = _tick(instance)
    (request,) = result.run_requests or []
    assert request.tags[REASON] == LIVE_ALERT[0]
    assert request.tags[TRIGGER] == "retrain_sensor"
    assert request.tags[ALERT_DAY] == request.tags[THROUGH] == FEATURES_THROUGH.isoformat()
    assert request.run_config == retrain_config(FEATURES_THROUGH)
    assert not _tick(instance, result.cursor).run_requests, "an event is judged once"


def test_drift_alone_retrains(instance: dg.DagsterInstance) -> None:
    assert DRIFT_ALERT[0].startswith("feature drift: origin_dep_delay_mean_3h")
    _monitor(instance, "feature_drift", FEATURES_THROUGH, DRIFT_ALERT)
    (request,) = _tick(instance).run_requests or []
    assert request.tags[REASON] == DRIFT_ALERT[0]


@pytest.mark.parametrize(("days_since", "retrains"), [(7, True), (6, False)])
def test_cooldown_boundary(instance: dg.DagsterInstance, days_since: int, retrains: bool) -> None:
    assert MonitoringPolicy().cooldown_days == 7
    last = FEATURES_THROUGH - timedelta(days=days_since)
    _retrain_run(instance, last, dg.DagsterRunStatus.SUCCESS)
    _monitor(instance, "live_performance", FEATURES_THROUGH, LIVE_ALERT)
    result = _tick(instance)
    assert bool(result.run_requests) is retrains
    if not retrains:
        assert f"cool-down: the last retraining trained through {last}" in str(result.skip_reason)


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.STARTED])
def test_a_retrain_that_ran_or_runs_starts_the_cooldown(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus
) -> None:
    _retrain_run(instance, FEATURES_THROUGH - timedelta(days=1), status)
    _monitor(instance, "live_performance", FEATURES_THROUGH, LIVE_ALERT)
    assert not _tick(instance).run_requests


def test_a_crashed_retrain_does_not_silence_retraining(instance: dg.DagsterInstance) -> None:
    crashed = _retrain_run(instance, FEATURES_THROUGH, dg.DagsterRunStatus.FAILURE)
    _monitor(instance, "live_performance", FEATURES_THROUGH, LIVE_ALERT)
    (request,) = _tick(instance).run_requests or []
    assert request.tags[THROUGH] == FEATURES_THROUGH.isoformat()
    # The daemon drops a request whose run key it has already seen: a retry needs its own.
    assert request.run_key != crashed.tags["dagster/run_key"]


@dg.asset(
    name="model_evaluation",
    check_specs=[dg.AssetCheckSpec("promotion_gate", asset="model_evaluation", blocking=True)],
)
def refused_evaluation() -> dg.MaterializeResult:
    """Stands for a retraining whose candidate the gate refused: evaluated, then blocked."""
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(check_name="promotion_gate", passed=False)]
    )


@dg.asset(name="model_evaluation")
def crashed_evaluation() -> None:
    """Stands for a retraining that died before it was evaluated."""
    raise RuntimeError("the training pod ran out of memory")


def _stand_in_retrain(
    instance: dg.DagsterInstance, evaluation: dg.AssetsDefinition, through: date
) -> dg.DagsterRun:
    """A real run of a job named `retrain`, as the retrain sensor's runs are."""
    job = dg.Definitions(
        assets=[evaluation], jobs=[dg.define_asset_job("retrain", [evaluation])]
    ).resolve_job_def("retrain")
    result = job.execute_in_process(
        instance=instance, tags={THROUGH: through.isoformat()}, raise_on_error=False
    )
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    return run


@pytest.mark.parametrize(("evaluation", "retrains"), [(refused_evaluation, False),
                                                      (crashed_evaluation, True)])  # fmt: skip
def test_a_refused_retrain_starts_the_cooldown_and_a_crashed_one_does_not(
    instance: dg.DagsterInstance, evaluation: dg.AssetsDefinition, retrains: bool
) -> None:
    """Both end FAILURE: the gate's blocking check fails its run. Only the crash trained nothing."""
    _stand_in_retrain(instance, evaluation, FEATURES_THROUGH - timedelta(days=1))
    _monitor(instance, "live_performance", FEATURES_THROUGH, LIVE_ALERT)
    assert bool(_tick(instance).run_requests) is retrains
