"""Distribution drift of features between a reference sample and a current one.

The reference enters as a `ReferenceProfile`, computed once (when the model is trained), so a
day's drift reads only the current window: DuckDB fetches its columns, numpy bins and counts
them against the profile. PSI is over the reference's deciles with NULLs a bin of their own;
KS D comes from the profile's `EcdfSketch`, within its stated `bound` of the exact D.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flightpath.monitoring.ecdf_sketch import ks_distance
from flightpath.monitoring.profile import (
    BINS,
    SCORE,
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    quote,
    reference_profile,
)

FLOOR = 1e-4
"""The share given to a bin empty on one side, so that PSI stays finite."""

Table = dict[Any, tuple[int, int]]
"""Per bin or value (None: NULL): (reference rows, current rows), in a fixed order (sorted,
NULL last), so that a statistic sums its terms in the same order every time."""


@dataclass(frozen=True)
class FeatureDrift:
    """How one feature's current distribution differs from its reference distribution."""

    feature: str
    kind: str  # "numeric" or "categorical"
    psi: float  # population stability index, NULLs a bin of their own
    statistic: float  # two-sample KS D (numeric, non-null values) or chi-square (categorical)
    p_value: float
    reference_rows: int
    current_rows: int
    reference_missing: float  # share of NULLs
    current_missing: float
    statistic_bound: float = 0.0  # KS D is within this of the exact D (0: exact)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feature_drift(
    connection: duckdb.DuckDBPyConnection,
    reference: str,
    current: str,
    numeric: list[str],
    categorical: list[str],
    bins: int = BINS,
) -> list[FeatureDrift]:
    """Drift of each column, numeric ones first: the reference's profile, then `drift_against`.

    `reference` and `current` are DuckDB table expressions: a table or view name,
    `read_parquet('...')` or `(SELECT ...)`. For a reference used more than once, keep its
    profile (`reference_profile`) and call `drift_against`.
    """
    profile = reference_profile(connection, reference, numeric, categorical, bins)
    return drift_against(profile, connection, current, numeric, categorical)


def drift_against(
    profile: ReferenceProfile,
    connection: duckdb.DuckDBPyConnection,
    current: str,
    numeric: list[str],
    categorical: list[str],
) -> list[FeatureDrift]:
    """Drift of each column of `current` (a DuckDB table expression) against the profile,
    numeric ones first, in the order given. Numeric columns are compared as DOUBLE over the
    profile's decile bins, categorical ones as VARCHAR over its values plus "other"."""
    lacking = [name for name in [*numeric, *categorical] if name not in profile.features]
    if lacking:
        raise ValueError(f"the reference profile has no feature(s) {lacking}")
    columns = [f"CAST({quote(c)} AS DOUBLE)" for c in numeric]
    columns += [f"CAST({quote(c)} AS VARCHAR)" for c in categorical]
    window = connection.sql(f"SELECT {', '.join(columns)} FROM {current}").to_arrow_table()
    if window.num_rows == 0:
        raise ValueError(f"the current sample {current!r} has no rows: drift is undefined")
    found = []
    for name, values in zip([*numeric, *categorical], window.columns, strict=True):
        reference = profile.features[name]
        if name in numeric and isinstance(reference, NumericProfile):
            found.append(_numeric(name, reference, values))
        elif name in categorical and isinstance(reference, CategoricalProfile):
            found.append(_categorical(name, reference, values))
        else:
            raise ValueError(f"{name} is profiled as {type(reference).__name__}, not as asked")
    return found


def window_drift(
    profile: ReferenceProfile,
    connection: duckdb.DuckDBPyConnection,
    window: str,
    numeric: list[str],
    categorical: list[str],
    model: str,
) -> list[FeatureDrift]:
    """Drift of a window of scored rows (a table expression with the features, SCORE and
    `model`): its features, then the scores `model` gave in it (not an earlier model's), each
    against the profile saved with `model`."""
    features = drift_against(profile, connection, window, numeric, categorical)
    scores = f"(SELECT {quote(SCORE)} FROM {window} WHERE model = '{model}')"
    return [*features, *drift_against(profile, connection, scores, [SCORE], [])]


def _result(
    name: str, kind: str, rows: tuple[int, int], missing: tuple[int, int],
    per_bin: list[tuple[int, int]], test: tuple[float, float], bound: float,
) -> FeatureDrift:  # fmt: skip
    return FeatureDrift(
        feature=name,
        kind=kind,
        psi=_psi(per_bin),
        statistic=test[0],
        p_value=test[1],
        reference_rows=rows[0],
        current_rows=rows[1],
        reference_missing=missing[0] / rows[0],
        current_missing=missing[1] / rows[1],
        statistic_bound=bound if kind == "numeric" and not math.isnan(test[0]) else 0.0,
    )


def _numeric(name: str, reference: NumericProfile, values: pa.ChunkedArray) -> FeatureDrift:
    present = pc.drop_null(values).to_numpy()
    missing = len(values) - len(present)
    # A value's bin is the number of edges below it: right-closed bins whose edges are reference
    # values, so a tied value never straddles two bins (repeated edges leave some bins empty).
    labels, counts = np.unique(np.searchsorted(reference.edges, present), return_counts=True)
    now = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    table: Table = {b: (reference.bin_rows.get(b, 0), now.get(b, 0))
                    for b in sorted(set(reference.bin_rows) | set(now))}  # fmt: skip
    if reference.missing or missing:
        table[None] = (reference.missing, missing)
    sketch = reference.ecdf
    test = _ks_test(sketch.rows, len(present), ks_distance(sketch, present))
    rows, nulls = (reference.rows, len(values)), (reference.missing, missing)
    return _result(name, "numeric", rows, nulls, list(table.values()), test, sketch.bound)


def _categorical(name: str, reference: CategoricalProfile, values: pa.ChunkedArray) -> FeatureDrift:
    counted = pc.value_counts(pc.drop_null(values))
    now = dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                   strict=True))  # fmt: skip
    missing = len(values) - sum(now.values())
    table: Table = {v: (reference.category_rows.get(v, 0), now.get(v, 0))
                    for v in sorted(set(reference.category_rows) | set(now))}  # fmt: skip
    if reference.missing or missing:
        table[None] = (reference.missing, missing)
    per_bin = _category_bins(table)
    rows, nulls = (reference.rows, len(values)), (reference.missing, missing)
    return _result(name, "categorical", rows, nulls, per_bin, _chi_square(per_bin), 0.0)


def _category_bins(table: Table) -> list[tuple[int, int]]:
    """One bin per reference category, then NULL and "other" (values the reference lacks),
    each only when some row falls in it."""
    seen = [counts for value, counts in table.items() if value is not None and counts[0]]
    missing = [table[None]] if None in table else []
    other = sum(now for value, (then, now) in table.items() if value is not None and not then)
    return seen + missing + ([(0, other)] if other else [])


def _counts(per_bin: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array(per_bin, dtype=np.float64).reshape(-1, 2)
    return counts[:, 0], counts[:, 1]


def _shares(counts: np.ndarray) -> np.ndarray:
    return np.maximum(counts / counts.sum(), FLOOR)


def _psi(per_bin: list[tuple[int, int]]) -> float:
    """Sum over bins of (current - reference) * ln(current / reference) shares."""
    reference, current = _counts(per_bin)
    expected, actual = _shares(reference), _shares(current)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _ks_test(n: int, m: int, d: float) -> tuple[float, float]:
    """D and its asymptotic (Kolmogorov) p-value; NaN when a side has no values."""
    # scipy.stats is imported here: it adds ~1 s to every load of the code location.
    from scipy.stats import kstwobign

    if not n or not m:
        return math.nan, math.nan
    return d, float(kstwobign.sf(d * math.sqrt(n * m / (n + m))))


def _chi_square(per_bin: list[tuple[int, int]]) -> tuple[float, float]:
    """Pearson's statistic of the current counts against the reference's (floored) shares,
    rescaled to the current total; degrees of freedom: bins - 1."""
    from scipy.stats import chi2

    reference, current = _counts(per_bin)
    shares = _shares(reference)
    expected = current.sum() * shares / shares.sum()
    statistic = float(np.sum((current - expected) ** 2 / expected))
    dof = len(current) - 1
    return statistic, float(chi2.sf(statistic, dof)) if dof > 0 else math.nan
