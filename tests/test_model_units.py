"""The model library on known inputs: metrics, the bootstrap, the gate, encoding, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from flightpath.models.features import FeatureSpec
from flightpath.models.gate import GateRules, decide, judge, naive_baseline
from flightpath.models.metrics import auc_difference, expected_calibration_error, weighted_auc
from flightpath.models.registry import CHAMPION, ModelRegistry, RegistryError
from tests.model_data import save_tiny_models

RNG = np.random.default_rng(3)


def _labels_and_scores(rows: int = 4000, signal: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated scores: each label is drawn with its score's probability."""
    scores = 1 / (1 + np.exp(-signal * RNG.normal(size=rows)))
    return RNG.binomial(1, scores), scores


def test_weighted_auc_with_unit_weights_is_the_roc_auc_ties_included() -> None:
    labels, scores = _labels_and_scores()
    scores = np.round(scores, 1)  # many ties
    ones = np.ones((1, len(labels)))
    assert weighted_auc(labels, scores, ones)[0] == pytest.approx(roc_auc_score(labels, scores))


def test_weighted_auc_with_integer_weights_is_the_auc_of_the_repeated_rows() -> None:
    labels, scores = _labels_and_scores(500)
    counts = RNG.integers(0, 3, len(labels))
    repeated = np.repeat(np.arange(len(labels)), counts)
    expected = roc_auc_score(labels[repeated], scores[repeated])
    assert weighted_auc(labels, scores, counts[None, :].astype(float))[0] == pytest.approx(expected)


def test_bootstrap_interval_excludes_zero_only_for_a_real_difference() -> None:
    labels, strong = _labels_and_scores()
    weak = np.clip(strong + RNG.normal(scale=0.3, size=len(strong)), 0, 1)
    better = auc_difference(labels, strong, weak, resamples=200)
    assert better.estimate > 0.05 and better.low > 0
    same = auc_difference(labels, strong, strong, resamples=200)
    assert same.estimate == 0 and same.low <= 0 <= same.high
    worse = auc_difference(labels, weak, strong, resamples=200)
    assert worse.high < 0


def test_calibration_error_sees_a_shifted_model() -> None:
    labels = RNG.binomial(1, 0.3, 20000)
    assert expected_calibration_error(labels, np.full(len(labels), 0.3)) < 0.01
    assert expected_calibration_error(labels, np.full(len(labels), 0.6)) == pytest.approx(
        0.3, abs=0.01
    )


def _gate_rows(rows: int = 6000) -> pd.DataFrame:
    labels, good = _labels_and_scores(rows)
    noise = np.clip(good + RNG.normal(scale=0.35, size=rows), 0.01, 0.99)
    return pd.DataFrame(
        {
            "label": labels,
            "carrier": RNG.choice(["AA", "UA", "B6"], rows),
            "origin": RNG.choice(["EWR", "JFK", "LGA"], rows),
            "good": good,
            "noisy": noise,
            "shifted": np.clip(good + 0.25, 0, 1),  # same ranking, badly calibrated
        }
    )


def test_gate_promotes_a_clearly_better_calibrated_candidate() -> None:
    rows = _gate_rows()
    verdict = judge(rows, "good", "noisy", GateRules(resamples=200, max_ece=0.1))
    assert verdict.promote and verdict.reasons == [] and verdict.low > 0


def test_gate_refuses_worse_miscalibrated_or_slice_regressing_candidates() -> None:
    rows = _gate_rows()
    rules = GateRules(resamples=200, max_ece=0.1, slice_min_rows=500)
    worse = judge(rows, "noisy", "good", rules)
    assert not worse.promote
    assert any("below the margin" in r for r in worse.reasons)
    assert any("does not exclude zero" in r for r in worse.reasons)
    shifted = judge(rows, "shifted", "noisy", rules)
    assert not shifted.promote and any("calibration error" in r for r in shifted.reasons)
    # Better overall, but useless for one carrier: that slice blocks it.
    rows["patchy"] = rows["good"].where(rows["carrier"] != "B6", 0.5)
    patchy = judge(rows, "patchy", "noisy", GateRules(resamples=200, max_ece=0.2))
    assert not patchy.promote
    assert any(r.startswith("carrier B6:") for r in patchy.reasons)


def test_decide_takes_the_best_candidate_first_and_stops_at_the_first_pass() -> None:
    rows = _gate_rows()
    rows["reference"] = np.clip(rows["good"] + RNG.normal(scale=0.6, size=len(rows)), 0, 1)
    verdicts = decide(rows, ["noisy", "good"], "reference", GateRules(resamples=100, max_ece=0.2))
    assert [v.candidate for v in verdicts] == ["good"] and verdicts[0].promote


def test_naive_baseline_is_the_shrunk_carrier_origin_rate() -> None:
    train = pd.DataFrame(
        {"carrier": ["AA"] * 100 + ["UA"] * 2, "origin": ["JFK"] * 102,
         "is_delayed": [1] * 50 + [0] * 50 + [1, 1]}
    )  # fmt: skip
    test = pd.DataFrame({"carrier": ["AA", "UA", "B6"], "origin": ["JFK", "JFK", "JFK"]})
    overall = 52 / 102
    expected = [(50 + 50 * overall) / 150, (2 + 50 * overall) / 52, overall]
    assert naive_baseline(train, test) == pytest.approx(expected)


def test_naive_baseline_by_one_column_is_that_column_s_shrunk_rate() -> None:
    # Grouped by a single column (mortgage: credit history), not a constant.
    train = pd.DataFrame({"chist": [1] * 100 + [6] * 10, "denied": [0] * 95 + [1] * 5 + [1] * 10})
    test = pd.DataFrame({"chist": [6, 1, 3]})
    overall = 15 / 110
    expected = [(10 + 50 * overall) / 60, (5 + 50 * overall) / 150, overall]
    assert naive_baseline(train, test, by=["chist"], label="denied") == pytest.approx(expected)


def test_feature_matrix_encodes_unseen_categories_and_missing_numbers_as_nan() -> None:
    train = pd.DataFrame({"carrier": ["AA", "UA"], "distance": [100.0, 200.0]})
    spec = FeatureSpec.fit(train, ["carrier", "distance"])
    assert spec.vocabularies == {"carrier": ["AA", "UA"]} and spec.categorical == [0]
    serve = pd.DataFrame(
        {"carrier": ["UA", "ZZ"], "distance": pd.array([300, None], dtype="Int64")}
    )
    matrix = spec.matrix(serve)
    assert matrix[0].tolist() == [1.0, 300.0]
    assert np.isnan(matrix[1]).all()
    with pytest.raises(KeyError, match="distance"):
        spec.matrix(serve.drop(columns="distance"))


def _registry_with_models(root: Path, count: int) -> tuple[ModelRegistry, list[str]]:
    """Tiny real LightGBM models: promoting one loads it (in a child process) first."""
    registry = ModelRegistry(root)
    return registry, save_tiny_models(registry, count, RNG)


def test_registry_promotes_rolls_back_and_keeps_every_change(tmp_path: Path) -> None:
    registry, (first, second) = _registry_with_models(tmp_path, 2)
    assert registry.alias(CHAMPION) is None
    with pytest.raises(RegistryError, match="no previous model"):
        registry.rollback("nothing yet")
    registry.promote(first, "gate")
    registry.promote(second, "gate")
    registry.promote(second, "gate again")  # already champion: the stack does not grow
    change = registry.rollback("bad canary")
    assert (change.tag, change.previous) == (first, second)
    assert registry.alias(CHAMPION) == first
    with pytest.raises(RegistryError):
        registry.rollback("the first champion has nothing before it")
    actions = [(c.action, c.tag, c.reason) for c in registry.history()]
    assert actions == [
        ("promote", first, "gate"),
        ("promote", second, "gate"),
        ("promote", second, "gate again"),
        ("rollback", first, "bad canary"),
    ]
    with pytest.raises(RegistryError, match="no model"):
        registry.promote("delay_model_lgbm:unknown", "typo")
    assert ModelRegistry(tmp_path).alias(CHAMPION) == first  # persisted, not in memory


def test_the_services_row_encoding_equals_the_training_matrix() -> None:
    frame = pd.DataFrame(
        {"carrier": ["AA", "UA", "ZZ", None], "distance": [100.0, None, 3.5, 7.0],
         "weekday": pd.array([1, 2, None, 7], dtype="Int64")}
    )  # fmt: skip
    spec = FeatureSpec.fit(frame.iloc[:2], ["carrier", "distance", "weekday"])
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
               for row in frame.to_dict("records")]  # fmt: skip
    np.testing.assert_array_equal(spec.rows(records), spec.matrix(frame))
