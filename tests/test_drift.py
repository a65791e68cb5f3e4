"""Feature drift on known distributions: PSI, KS and chi-square against hand and scipy values."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare, ks_2samp, norm

from flightpath.monitoring.drift import FLOOR, FeatureDrift, feature_drift

REFERENCE_ROWS, CURRENT_ROWS = 50_000, 5_000


def _drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
) -> dict[str, FeatureDrift]:
    connection = duckdb.connect()
    connection.register("reference", reference)
    connection.register("current", current)
    drifts = feature_drift(connection, "reference", "current", numeric or [], categorical or [])
    return {drift.feature: drift for drift in drifts}


def _psi(reference: list[float], current: list[float]) -> float:
    return sum((c - r) * math.log(c / r) for r, c in zip(reference, current, strict=True))


def _categories(shares: dict[str | None, float], rows: int) -> pd.DataFrame:
    """Exactly `share * rows` rows of each value, in a fixed shuffled order."""
    values = [value for value, share in shares.items() for _ in range(round(share * rows))]
    return pd.DataFrame({"c": pd.Series(values, dtype=object)}).sample(frac=1, random_state=0)


def _normal(rng: np.random.Generator, mean: float, rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(mean, 1.0, rows)})


def test_same_normal_distribution_shows_no_drift() -> None:
    rng = np.random.default_rng(11)
    drift = _drift(_normal(rng, 0, REFERENCE_ROWS), _normal(rng, 0, CURRENT_ROWS), ["x"])["x"]
    assert drift.kind == "numeric"
    assert drift.psi < 0.02
    assert drift.p_value > 0.01
    assert (drift.reference_rows, drift.current_rows) == (REFERENCE_ROWS, CURRENT_ROWS)
    assert drift.reference_missing == drift.current_missing == 0.0


def test_mean_shift_psi_is_near_the_symmetric_kl_and_ks_is_scipys() -> None:
    rng = np.random.default_rng(12)
    reference, current = _normal(rng, 0, REFERENCE_ROWS), _normal(rng, 0.5, CURRENT_ROWS)
    drift = _drift(reference, current, ["x"])["x"]
    # PSI is the symmetric KL divergence, delta^2 = 0.25 for N(0,1) against N(0.5,1). Ten
    # reference deciles see only 0.2377 of it (the binned population value, below); sampling
    # adds about +0.002 of bias ((bins - 1) * (1/n + 1/m)) and a standard deviation of about
    # 0.015 (200 seeds simulated). So 0.25 +- 0.06 holds the estimate with 3 SD to spare of
    # either side of the binned value, and 0.2377 +- 0.05 is the tighter check.
    edges = norm.ppf(np.arange(1, 10) / 10)
    shifted = np.diff(np.r_[0.0, norm.cdf(edges - 0.5), 1.0])
    binned = _psi([0.1] * 10, list(shifted))
    assert binned == pytest.approx(0.2377, abs=1e-4)
    assert drift.psi == pytest.approx(0.25, abs=0.06)
    assert drift.psi == pytest.approx(binned, abs=0.05)
    # 50,000 distinct values against 10,001 knots: D from the sketch, within its stated bound.
    exact = ks_2samp(reference.x, current.x).statistic
    assert 0 < drift.statistic_bound < 1e-4
    assert abs(drift.statistic - exact) <= drift.statistic_bound
    assert drift.p_value < 1e-50


def test_ks_handles_ties_in_discrete_values() -> None:
    rng = np.random.default_rng(13)
    reference = pd.DataFrame({"n": rng.poisson(3.0, REFERENCE_ROWS)})
    for mean in (3.0, 3.3):
        current = pd.DataFrame({"n": rng.poisson(mean, CURRENT_ROWS)})
        drift = _drift(reference, current, ["n"])["n"]
        expected = ks_2samp(reference.n, current.n).statistic
        assert drift.statistic_bound == 0.0  # fewer distinct values than knots: exact
        assert drift.statistic == pytest.approx(expected, abs=1e-12)


def test_few_distinct_values_collapse_the_bins() -> None:
    # Deciles of a 70/30 binary column are 0 (x7) and 1 (x2): two bins, <= 0 and (0, 1].
    reference = pd.DataFrame({"b": [0] * 7000 + [1] * 3000})
    current = pd.DataFrame({"b": [0] * 500 + [1] * 500})
    drift = _drift(reference, current, ["b"])["b"]
    assert drift.psi == pytest.approx(_psi([0.7, 0.3], [0.5, 0.5]), rel=1e-12)


def test_identical_category_shares_show_no_drift() -> None:
    shares: dict[str | None, float] = {"a": 0.5, "b": 0.3, "c": 0.2}
    drift = _drift(_categories(shares, 10_000), _categories(shares, 1_000), categorical=["c"])["c"]
    assert drift.kind == "categorical"
    assert drift.psi == pytest.approx(0.0, abs=1e-12)
    assert drift.statistic == pytest.approx(0.0, abs=1e-12)
    assert drift.p_value == pytest.approx(1.0)


def test_category_shift_matches_hand_psi_and_scipy_chi_square() -> None:
    reference = _categories({"a": 0.5, "b": 0.3, "c": 0.2}, 10_000)
    current = _categories({"a": 0.4, "b": 0.3, "c": 0.3}, 1_000)
    drift = _drift(reference, current, categorical=["c"])["c"]
    assert drift.psi == pytest.approx(_psi([0.5, 0.3, 0.2], [0.4, 0.3, 0.3]), rel=1e-12)
    expected = chisquare([400, 300, 300], [500, 300, 200])
    assert drift.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert drift.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_unseen_category_lands_in_other_and_raises_psi() -> None:
    reference = _categories({"a": 0.5, "b": 0.3, "c": 0.2}, 10_000)
    seen = _categories({"a": 0.4, "b": 0.3, "c": 0.3}, 1_000)
    unseen = _categories({"a": 0.4, "b": 0.3, "c": 0.2, "new": 0.05, "newer": 0.05}, 1_000)
    drifts = [_drift(reference, current, categorical=["c"])["c"] for current in (seen, unseen)]
    # "new" and "newer" share one "other" bin, which the reference holds at the floor share.
    hand = _psi([0.5, 0.3, 0.2, FLOOR], [0.4, 0.3, 0.2, 0.1])
    assert drifts[1].psi == pytest.approx(hand, rel=1e-12)
    assert drifts[1].psi > drifts[0].psi
    assert drifts[1].p_value < 1e-100


def test_null_shares_are_reported_and_more_nulls_raise_psi() -> None:
    rng = np.random.default_rng(14)

    def sample(rows: int, missing: float) -> pd.DataFrame:
        x = rng.normal(0, 1, rows)
        x[: round(missing * rows)] = np.nan
        c = _categories({"a": 0.5, "b": 0.5 - missing, None: missing}, rows).c.to_numpy()
        return pd.DataFrame({"x": x, "c": c})

    reference = sample(REFERENCE_ROWS, 0.05)
    steady = _drift(reference, sample(CURRENT_ROWS, 0.05), ["x"], ["c"])
    rising = _drift(reference, sample(CURRENT_ROWS, 0.20), ["x"], ["c"])
    for feature in ("x", "c"):
        assert steady[feature].reference_missing == pytest.approx(0.05)
        assert rising[feature].current_missing == pytest.approx(0.20)
        assert rising[feature].psi > steady[feature].psi + 0.1
    # KS compares the non-null values only.
    current = sample(CURRENT_ROWS, 0.20)
    drift = _drift(reference, current, ["x"])["x"]
    expected = ks_2samp(reference.x.dropna(), current.x.dropna()).statistic
    assert abs(drift.statistic - expected) <= drift.statistic_bound < 1e-4


def test_all_null_column_gives_nan_ks_instead_of_crashing() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": np.full(10, np.nan)})
    drift = _drift(reference, current, ["x"])["x"]
    assert math.isnan(drift.statistic) and math.isnan(drift.p_value)
    assert drift.current_missing == 1.0
    assert math.isfinite(drift.psi)


def test_empty_current_sample_is_an_error() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0)})
    with pytest.raises(ValueError, match=r"current sample .* has no rows"):
        _drift(reference, reference.iloc[:0], ["x"])


def test_table_expressions_and_quoted_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    reference = pd.DataFrame({"dep delay": rng.normal(0, 1, 2000), "kind": "a"})
    current = pd.DataFrame({"dep delay": rng.normal(0.3, 1, 500), "kind": "b"})
    reference.to_parquet(tmp_path / "reference.parquet")
    connection = duckdb.connect()
    connection.register("frame", current)
    drifts = feature_drift(
        connection,
        f"read_parquet('{tmp_path / 'reference.parquet'}')",
        "(SELECT * FROM frame WHERE true)",
        ["dep delay"],
        ["kind"],
    )
    assert [drift.feature for drift in drifts] == ["dep delay", "kind"]
    expected = ks_2samp(reference["dep delay"], current["dep delay"]).statistic
    assert drifts[0].statistic == pytest.approx(expected, abs=1e-12)
    assert drifts[1].to_dict()["current_rows"] == 500
