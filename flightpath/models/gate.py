"""The promotion gate: a candidate replaces the champion only when it is clearly better.

Clearly better means, on the same test rows: the ROC-AUC gain over the reference (the
champion, or the naive baseline when there is none yet) is at least `min_gain`, the lower end
of its paired-bootstrap interval is above zero, the candidate is calibrated, and no large
slice (for flights, carrier or origin) gets worse by more than `slice_tolerance`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from flightpath.models.features import LABEL
from flightpath.models.metrics import auc_difference, scores, slice_scores


@dataclass(frozen=True)
class GateRules:
    min_gain: float = 0.002
    confidence: float = 0.95
    resamples: int = 500
    max_ece: float = 0.05
    slice_tolerance: float = 0.03
    slice_min_rows: int = 1000


@dataclass
class Verdict:
    candidate: str
    reference: str
    promote: bool
    gain: float
    low: float
    high: float
    ece: float
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


SLICES = ("carrier", "origin")  # the flights use case's
BASELINE_GROUPS = ("carrier", "origin")


def judge(
    rows: pd.DataFrame,
    candidate: str,
    reference: str,
    rules: GateRules,
    slices: Sequence[str] = SLICES,
) -> Verdict:
    """`rows` has `label`, the slice columns and one score column per model."""
    labels = rows["label"].to_numpy()
    difference = auc_difference(
        labels,
        rows[candidate].to_numpy(),
        rows[reference].to_numpy(),
        resamples=rules.resamples,
        confidence=rules.confidence,
    )
    ece = scores(labels, rows[candidate].to_numpy())["ece"]
    reasons = []
    if difference.estimate < rules.min_gain:
        reasons.append(
            f"ROC-AUC gain over {reference} is {difference.estimate:+.4f}, "
            f"below the margin {rules.min_gain:+.4f}"
        )
    if difference.low <= 0:
        reasons.append(
            f"the {rules.confidence:.0%} bootstrap interval of the gain "
            f"[{difference.low:+.4f}, {difference.high:+.4f}] does not exclude zero"
        )
    if ece > rules.max_ece:
        reasons.append(f"calibration error {ece:.4f} exceeds {rules.max_ece:.4f}")
    for by in slices:
        table = slice_scores(rows, by, [candidate, reference], rules.slice_min_rows)
        if table.empty:
            continue
        worse = table[table[candidate] < table[reference] - rules.slice_tolerance]
        for _, row in worse.iterrows():
            reasons.append(
                f"{by} {row['value']}: ROC-AUC {row[candidate]:.4f} against "
                f"{row[reference]:.4f} ({int(row['rows'])} rows)"
            )
    return Verdict(
        candidate=candidate,
        reference=reference,
        promote=not reasons,
        gain=difference.estimate,
        low=difference.low,
        high=difference.high,
        ece=ece,
        reasons=reasons,
    )


def decide(
    rows: pd.DataFrame,
    candidates: list[str],
    reference: str,
    rules: GateRules,
    slices: Sequence[str] = SLICES,
) -> list[Verdict]:
    """Candidates judged best-first by test ROC-AUC; the first that passes is the winner."""
    labels = rows["label"].to_numpy()
    ranked = sorted(candidates, key=lambda name: -scores(labels, rows[name].to_numpy())["roc_auc"])
    verdicts = []
    for name in ranked:
        verdicts.append(judge(rows, name, reference, rules, slices))
        if verdicts[-1].promote:
            break
    return verdicts


def naive_baseline(
    train: pd.DataFrame,
    test: pd.DataFrame,
    prior_rows: int = 50,
    by: Sequence[str] = BASELINE_GROUPS,
    label: str = LABEL,
) -> np.ndarray:
    """The historical positive rate of the training rows per group of `by` (for flights,
    carrier x origin), shrunk to the overall rate for groups with few rows: what a person
    would guess without a model."""
    overall = train[label].mean()
    groups = train.groupby(list(by))[label].agg(["sum", "count"]).reset_index()
    groups["rate"] = (groups["sum"] + prior_rows * overall) / (groups["count"] + prior_rows)
    # A left merge keeps the test rows' order; a group never seen in training gets the overall.
    rate = test[list(by)].merge(groups[[*by, "rate"]], on=list(by), how="left")["rate"]
    return rate.fillna(overall).to_numpy(np.float64)
