"""The alarms that ask for a retraining, the same for every use case: drift a retraining can fix,
and a champion whose live ROC-AUC has fallen under its test ROC-AUC."""

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from flightpath.models.metrics import scores
from flightpath.monitoring.drift import FeatureDrift
from resources.monitoring import MonitoringPolicy

# The check each use case's live performance asset carries: the live ROC-AUC holds.
LIVE_CHECK = "live_roc_auc_holds"


def drift_alerts(
    stats: list[FeatureDrift],
    score: str,
    policy: MonitoringPolicy,
    exempt: Collection[str] = (),
) -> list[str]:
    """Each feature whose PSI is over the policy's, largest first (`exempt` ones move for
    reasons a retraining cannot fix: reported elsewhere, never alerting), then the scores
    (the statistic named `score`) over the policy's prediction PSI."""
    features = sorted(
        (s for s in stats if s.feature != score and s.feature not in exempt), key=lambda s: -s.psi
    )
    found = [
        f"feature drift: {s.feature} PSI {s.psi:.3f} > {policy.feature_psi}"
        for s in features
        if s.psi > policy.feature_psi
    ]
    found += [
        f"prediction drift: score PSI {s.psi:.3f} > {policy.prediction_psi}"
        for s in stats
        if s.feature == score and s.psi > policy.prediction_psi
    ]
    return found


def score_table(rows: pd.DataFrame) -> pd.DataFrame:
    """ROC-AUC, PR-AUC, Brier, calibration per model and role of labelled `rows` (`model`,
    `role`, `label`, `probability`)."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "role": role,
                **scores(part["label"].to_numpy(), part["probability"].to_numpy()),
            }
            for (model, role), part in rows.groupby(["model", "role"], sort=True)
        ]
    )


@dataclass(frozen=True)
class LiveVerdict:
    live: float | None  # the champion's live ROC-AUC; None until enough rows are labelled
    alerts: list[str]
    summary: str


def judge_live_roc_auc(
    labelled: pd.DataFrame,
    reference: float | None,
    policy: MonitoringPolicy,
    window: str,
    min_labelled: int | None = None,
) -> LiveVerdict:
    """Alert when the champion's live ROC-AUC over `labelled` (`label`, `probability` rows) is
    more than `policy.auc_drop` under its test ROC-AUC (`reference`); judged once there are
    `min_labelled` rows (None: the policy's)."""
    needed = policy.min_labelled if min_labelled is None else min_labelled
    if len(labelled) < needed:
        return LiveVerdict(None, [], f"{len(labelled)} labelled champion rows in {window}: "
                           f"not judged yet (needs {needed})")  # fmt: skip
    live = scores(labelled["label"].to_numpy(), labelled["probability"].to_numpy())["roc_auc"]
    if reference is None:
        return LiveVerdict(live, [], f"champion ROC-AUC {live:.4f} over {window} (no test score)")
    if live < reference - policy.auc_drop:
        alert = (f"live performance: champion ROC-AUC {live:.4f} over {window} is more than "
                 f"{policy.auc_drop} under its test ROC-AUC {reference:.4f}")  # fmt: skip
        return LiveVerdict(live, [alert], alert)
    return LiveVerdict(
        live, [], f"champion ROC-AUC {live:.4f} over {window} (test {reference:.4f})"
    )
