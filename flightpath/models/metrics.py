"""How good a model of a yes/no outcome is: discrimination, calibration, and a paired bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CALIBRATION_BINS = 10

# scikit-learn is imported where a score is computed: it adds ~1.4 s to every process that loads
# the code location (each run, the daemon, the code server), most of which never score.


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), Brier score, log loss, expected calibration error."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    one_class = len(np.unique(labels)) < 2
    return {
        "roc_auc": np.nan if one_class else float(roc_auc_score(labels, predicted)),
        "pr_auc": np.nan if one_class else float(average_precision_score(labels, predicted)),
        "brier": float(brier_score_loss(labels, predicted)),
        "log_loss": float(log_loss(labels, np.clip(predicted, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "ece": expected_calibration_error(labels, predicted),
        "rows": float(len(labels)),
        "base_rate": float(np.mean(labels)),
        "mean_predicted": float(np.mean(predicted)),
    }


def calibration_table(labels: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Per bin of equal width: rows, mean predicted probability, observed rate."""
    bins = np.minimum((predicted * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    frame = pd.DataFrame({"bin": bins, "predicted": predicted, "observed": labels})
    table = frame.groupby("bin").agg(
        rows=("observed", "size"), predicted=("predicted", "mean"), observed=("observed", "mean")
    )
    return table.reset_index()


def expected_calibration_error(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Row-weighted mean gap between predicted and observed rates over the calibration bins."""
    table = calibration_table(labels, predicted)
    gaps = (table["predicted"] - table["observed"]).abs()
    return float((gaps * table["rows"]).sum() / max(len(labels), 1))


def weighted_auc(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC under each row of `weights` (shape resamples x rows), ties counted half.

    Sorting once and summing weights per distinct score makes each resample O(rows).
    """
    order = np.argsort(predicted, kind="stable")
    ranked, positive = predicted[order], labels[order].astype(bool)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return wins / (pos.sum(axis=1) * neg.sum(axis=1))


@dataclass(frozen=True)
class Difference:
    """AUC(candidate) - AUC(reference) on the same rows, with a bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def auc_difference(
    labels: np.ndarray,
    candidate: np.ndarray,
    reference: np.ndarray,
    resamples: int = 500,
    confidence: float = 0.95,
    seed: int = 7,
    chunk: int = 50,
) -> Difference:
    """Paired (Poisson) bootstrap: both models are scored on the same resampled rows."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, resamples, chunk):
        weights = rng.poisson(1.0, size=(min(chunk, resamples - start), len(labels)))
        weights = weights.astype(np.float64)
        diffs.append(
            weighted_auc(labels, candidate, weights) - weighted_auc(labels, reference, weights)
        )
    sample = np.concatenate(diffs)
    tail = (1 - confidence) / 2
    return Difference(
        estimate=float(roc_auc_score(labels, candidate) - roc_auc_score(labels, reference)),
        low=float(np.quantile(sample, tail)),
        high=float(np.quantile(sample, 1 - tail)),
        confidence=confidence,
    )


def slice_scores(frame: pd.DataFrame, by: str, models: list[str], min_rows: int) -> pd.DataFrame:
    """ROC-AUC of each model per value of `by` (slices with both classes and enough rows)."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for value, part in frame.groupby(by, observed=True):
        labels = part["label"].to_numpy()
        if len(part) < min_rows or labels.min() == labels.max():
            continue
        row = {"slice": by, "value": str(value), "rows": len(part), "base_rate": labels.mean()}
        for model in models:
            row[model] = roc_auc_score(labels, part[model].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)
