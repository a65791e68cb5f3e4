"""Drift against a saved reference profile, on real January days: PSI exactly as it was defined
before profiles (one query over both samples), KS D within the profile's stated bound."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from flightpath.models.artifacts import MANIFEST
from flightpath.models.registry import ModelRegistry, RegistryError
from flightpath.monitoring.drift import FLOOR, FeatureDrift, drift_against
from flightpath.monitoring.ecdf_sketch import KNOTS, EcdfSketch
from flightpath.monitoring.profile import PROFILE_FILE, ReferenceProfile, reference_profile
from resources.lake import Lake

FLIGHT_NUMERIC = ["dep_delay", "arr_delay", "air_time", "distance", "sched_dep_time", "dep_time"]
FLIGHT_CATEGORICAL = ["carrier", "origin", "dest", "tailnum"]  # tailnum has NULLs
WEATHER_NUMERIC = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
                   "pressure", "visib"]  # fmt: skip
FIRST, SPLIT, LAST = date(2013, 1, 1), date(2013, 1, 13), date(2013, 1, 20)

# The binning and counting queries of drift.py before profiles, verbatim but for layout: both
# samples unpivoted to (is_current, feature, value) rows, counted in one query.
SIDES = """
    SELECT false AS is_current, feature, value FROM ({reference_long})
    UNION ALL SELECT true AS is_current, feature, value FROM ({current_long})
"""
LONG = "SELECT * FROM (SELECT {select} FROM {source}) UNPIVOT INCLUDE NULLS (value FOR feature IN ({names}))"  # noqa: E501
COUNTS = "count(*) FILTER (WHERE NOT is_current), count(*) FILTER (WHERE is_current)"
NUMERIC_BINS = """
    WITH sides AS ({sides}),
    edges AS (
        SELECT feature, coalesce(quantile_disc(value, {quantiles}), []::DOUBLE[]) AS edges
        FROM sides WHERE NOT is_current GROUP BY feature
    )
    SELECT feature,
           CASE WHEN value IS NOT NULL
                THEN len(list_filter(edges, lambda edge: edge < value)) END AS bin,
           {counts}
    FROM sides JOIN edges USING (feature)
    GROUP BY ALL
"""
CATEGORY_COUNTS = "SELECT feature, value, {counts} FROM ({sides}) GROUP BY feature, value"


def _sides(reference: str, current: str, columns: list[str], cast: str) -> str:
    def long(source: str) -> str:
        select = ", ".join(f"CAST({c} AS {cast}) AS {c}" for c in columns)
        return LONG.format(select=select, source=source, names=", ".join(columns))

    return SIDES.format(reference_long=long(reference), current_long=long(current))


def _ordered(rows: list[tuple]) -> dict[str, list[tuple[object, tuple[int, int]]]]:
    """Per feature, (bin or value, counts) sorted, NULL last: the order drift.py sums in."""
    tables: dict[str, list[tuple[object, tuple[int, int]]]] = {}
    for feature, key, reference, current in rows:
        tables.setdefault(feature, []).append((key, (int(reference), int(current))))
    return {f: sorted(t, key=lambda kv: (kv[0] is None, kv[0] if kv[0] is not None else 0))
            for f, t in tables.items()}  # fmt: skip


def _psi(per_bin: list[tuple[int, int]]) -> float:
    """PSI as drift.py has always defined it: floored shares, sum of (a - e) * ln(a / e)."""
    counts = np.array(per_bin, dtype=np.float64).reshape(-1, 2)
    expected = np.maximum(counts[:, 0] / counts[:, 0].sum(), FLOOR)
    actual = np.maximum(counts[:, 1] / counts[:, 1].sum(), FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _category_bins(table: list[tuple[object, tuple[int, int]]]) -> list[tuple[int, int]]:
    seen = [counts for value, counts in table if value is not None and counts[0]]
    missing = [counts for value, counts in table if value is None]
    other = sum(now for value, (then, now) in table if value is not None and not then)
    return seen + missing + ([(0, other)] if other else [])


def _todays_psi(
    connection: duckdb.DuckDBPyConnection, reference: str, current: str,
    numeric: list[str], categorical: list[str],
) -> dict[str, float]:  # fmt: skip
    quantiles = [k / 10 for k in range(1, 10)]
    binned = connection.sql(NUMERIC_BINS.format(
        sides=_sides(reference, current, numeric, "DOUBLE"), quantiles=quantiles, counts=COUNTS
    )).fetchall()  # fmt: skip
    counted = connection.sql(CATEGORY_COUNTS.format(
        sides=_sides(reference, current, categorical, "VARCHAR"), counts=COUNTS
    )).fetchall()  # fmt: skip
    psi = {f: _psi([c for _, c in t]) for f, t in _ordered(binned).items()}
    return psi | {f: _psi(_category_bins(t)) for f, t in _ordered(counted).items()}


def _by_feature(drifts: list[FeatureDrift]) -> dict[str, FeatureDrift]:
    return {drift.feature: drift for drift in drifts}


@pytest.mark.parametrize("table", ["flights", "weather"])
def test_psi_from_the_profile_is_todays_psi_exactly_on_real_days(
    january_lake: Lake, table: str
) -> None:
    flights = table == "flights"
    numeric = FLIGHT_NUMERIC if flights else WEATHER_NUMERIC
    categorical = FLIGHT_CATEGORICAL if flights else ["origin"]
    reference = january_lake.scan_days(table, FIRST, SPLIT)
    current = january_lake.scan_days(table, SPLIT.replace(day=14), LAST)
    with january_lake.connect() as connection:
        profile = reference_profile(connection, reference, numeric, categorical)
        drifts = _by_feature(drift_against(profile, connection, current, numeric, categorical))
        todays = _todays_psi(connection, reference, current, numeric, categorical)
    assert set(todays) == set(drifts) == {*numeric, *categorical}
    for feature, psi in todays.items():
        assert drifts[feature].psi == psi, feature  # the same bins, counts and sum: bit for bit
    # The real days exercise NULL bins and moving seasons, not just the easy case.
    assert any(drifts[f].reference_missing > 0 for f in numeric)
    assert max(d.psi for d in drifts.values()) > 0.1


def _halves(lake: Lake) -> tuple[pd.DataFrame, pd.DataFrame]:
    """January's flights in departure order, alternate rows: two samples of one distribution."""
    flights = lake.query(
        f"SELECT * FROM {lake.scan_days('flights', FIRST, LAST)} ORDER BY sched_dep_utc, flight_id"
    )
    return flights.iloc[::2].reset_index(drop=True), flights.iloc[1::2].reset_index(drop=True)


def _ks_against(
    reference: pd.DataFrame, current: pd.DataFrame, knots: int
) -> dict[str, FeatureDrift]:
    with duckdb.connect() as connection:
        connection.register("reference_rows", reference)
        connection.register("current_rows", current)
        profile = reference_profile(connection, "reference_rows", FLIGHT_NUMERIC, [], knots=knots)
        return _by_feature(drift_against(profile, connection, "current_rows", FLIGHT_NUMERIC, []))


# At 10,001 knots every column of January's ~8,700 flights per half has fewer distinct values
# than knots: the sketch is the exact ECDF there (bound 0).
@pytest.mark.parametrize(("knots", "sketched"), [(50, True), (1001, True), (KNOTS, False)])
def test_ks_from_the_sketch_is_within_its_bound_of_the_exact_d(
    january_lake: Lake, knots: int, sketched: bool
) -> None:
    reference, current = _halves(january_lake)
    drifts = _ks_against(reference, current, knots)
    for feature, drift in drifts.items():
        exact = ks_2samp(reference[feature].dropna(), current[feature].dropna())
        assert 0 <= drift.statistic_bound <= 1 / (knots - 1), feature
        assert abs(drift.statistic - exact.statistic) <= drift.statistic_bound + 1e-12, feature
    assert (max(d.statistic_bound for d in drifts.values()) > 0) == sketched


def test_ks_from_the_saved_sketch_stays_quiet_on_one_distribution(january_lake: Lake) -> None:
    # With 50 knots the bound (0.02) is as large as the sampling noise of D here and one column
    # reads p = 0.02; with the saved sketch's 10,001 the bound is under 1e-4.
    reference, current = _halves(january_lake)
    for feature, drift in _ks_against(reference, current, KNOTS).items():
        assert drift.p_value > 0.05, feature  # alternate rows of the same days: no drift


@pytest.mark.parametrize("knots", [50, KNOTS])
def test_ks_from_the_sketch_still_detects_a_shift(january_lake: Lake, knots: int) -> None:
    reference, current = _halves(january_lake)
    shifted = current.assign(dep_delay=current["dep_delay"] + 5, distance=current["distance"] * 1.1)
    drifts = _ks_against(reference, shifted, knots)
    for feature in ("dep_delay", "distance"):
        exact = ks_2samp(reference[feature].dropna(), shifted[feature].dropna())
        assert exact.pvalue < 1e-6
        bound = drifts[feature].statistic_bound + 1e-12  # + rounding
        assert abs(drifts[feature].statistic - exact.statistic) <= bound
        assert drifts[feature].p_value < 1e-6, feature


def test_the_sketch_is_exact_at_its_knots_and_the_bound_holds_everywhere() -> None:
    rng = np.random.default_rng(21)
    values = np.sort(np.concatenate([rng.normal(0, 1, 20_000), np.zeros(3_000)]))  # a heavy tie
    sketch = EcdfSketch.of(values, knots=100)
    grid = np.concatenate([sketch.knots, np.linspace(-5, 5, 4001), values[::7]])
    exact = np.searchsorted(values, grid, side="right") / len(values)
    below = np.searchsorted(values, grid, side="left") / len(values)
    assert np.max(np.abs(sketch.cdf(grid) - exact)) <= sketch.bound < 1 / 99
    assert np.max(np.abs(sketch.cdf(grid, strictly_below=True) - below)) <= sketch.bound
    on_knots = np.searchsorted(values, sketch.knots, side="right") / len(values)
    assert np.array_equal(sketch.cdf(sketch.knots), on_knots)
    assert 0.0 in sketch.knots  # the tie is a knot: its whole jump is exact


def _saved(registry: ModelRegistry, profile: ReferenceProfile | None) -> str:
    with registry.create("delay_model_lgbm", "lightgbm", {}) as entry:
        (Path(entry.path) / "model.txt").write_text("tree\n")
        if profile is not None:
            profile.write(Path(entry.path) / PROFILE_FILE)
    return str(entry.tag)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["feature", "entry", "position"]).reset_index(drop=True)


def test_the_registry_keeps_the_profile_under_the_models_checksums(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 5_000), "c": rng.choice(["a", "b", None], 5_000)})
    frame.loc[::10, "x"] = np.nan
    with duckdb.connect() as connection:
        connection.register("frame", frame)
        profile = reference_profile(connection, "frame", ["x"], ["c"], knots=100)
    registry = ModelRegistry(tmp_path)
    with_profile, without = _saved(registry, profile), _saved(registry, None)

    path = Path(registry.get(with_profile).path)
    assert PROFILE_FILE in json.loads((path / MANIFEST).read_text())
    loaded = registry.drift_profile(with_profile)
    assert loaded is not None
    pd.testing.assert_frame_equal(_sorted(loaded.to_frame()), _sorted(profile.to_frame()))
    assert loaded.features["c"].missing == frame["c"].isna().sum()  # type: ignore[union-attr]
    assert registry.drift_profile(without) is None  # saved before profiles: the caller falls back

    data = (path / PROFILE_FILE).read_bytes()
    (path / PROFILE_FILE).write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    with pytest.raises(RegistryError, match=rf"{PROFILE_FILE} does not match its checksum"):
        registry.drift_profile(with_profile)


def test_an_empty_reference_or_a_feature_it_lacks_is_a_clear_error() -> None:
    with duckdb.connect() as connection:
        connection.register("empty", pd.DataFrame({"x": pd.Series([], dtype=float)}))
        connection.register("sample", pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}))
        with pytest.raises(ValueError, match=r"reference sample .* has no rows"):
            reference_profile(connection, "empty", ["x"], [])
        profile = reference_profile(connection, "sample", ["x"], [])
        with pytest.raises(ValueError, match=r"profile has no feature\(s\) \['y'\]"):
            drift_against(profile, connection, "sample", ["x", "y"], [])
        [drift] = drift_against(profile, connection, "sample", ["x"], [])
        assert drift.psi == 0.0 and drift.statistic == 0.0 and not math.isnan(drift.p_value)
