"""Distribution drift of features between a reference sample and a current one.

DuckDB does the counting (per bin, per distinct value), so the reference can be millions of
rows in a parquet file; Python only combines the small per-bin tables and looks up p-values.
Each statistic is one query over all its columns, unpivoted to (feature, value) rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import numpy as np
from scipy.stats import chi2, kstwobign

FLOOR = 1e-4
"""The share given to a bin empty on one side, so that PSI stays finite."""

Table = dict[Any, tuple[int, int]]
"""Per bin or value (None: NULL): (reference rows, current rows)."""


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feature_drift(
    connection: duckdb.DuckDBPyConnection,
    reference: str,
    current: str,
    numeric: list[str],
    categorical: list[str],
    bins: int = 10,
) -> list[FeatureDrift]:
    """Drift of each column, numeric ones first, in the order given.

    `reference` and `current` are DuckDB table expressions: a table or view name,
    `read_parquet('...')` or `(SELECT ...)`. Numeric columns are compared as DOUBLE over
    `bins` equal-frequency bins of the reference, categorical ones as VARCHAR over the
    reference's categories plus "other" (categories it never saw).
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, not {bins}")
    reference_rows, current_rows = _row_counts(connection, reference, current)
    found: list[tuple[str, str, Table, list[tuple[int, int]], tuple[float, float]]] = []
    if numeric:
        binned = _numeric_bins(connection, reference, current, numeric, bins)
        ks = _ks(connection, reference, current, numeric)
        for feature in numeric:
            test = _ks_test(*ks.get(feature, (0, 0, math.nan)))
            table = binned[feature]
            found.append((feature, "numeric", table, list(table.values()), test))
    if categorical:
        counted = _categorical_counts(connection, reference, current, categorical)
        for feature in categorical:
            table = counted[feature]
            per_bin = _category_bins(table)
            found.append((feature, "categorical", table, per_bin, _chi_square(per_bin)))
    return [
        FeatureDrift(
            feature=feature,
            kind=kind,
            psi=_psi(per_bin),
            statistic=statistic,
            p_value=p_value,
            reference_rows=reference_rows,
            current_rows=current_rows,
            reference_missing=table.get(None, (0, 0))[0] / reference_rows,
            current_missing=table.get(None, (0, 0))[1] / current_rows,
        )
        for feature, kind, table, per_bin, (statistic, p_value) in found
    ]


def _row_counts(
    connection: duckdb.DuckDBPyConnection, reference: str, current: str
) -> tuple[int, int]:
    query = f"SELECT (SELECT count(*) FROM {reference}), (SELECT count(*) FROM {current})"
    [(reference_rows, current_rows)] = connection.sql(query).fetchall()
    for name, source, rows in (
        ("reference", reference, reference_rows),
        ("current", current, current_rows),
    ):
        if rows == 0:
            raise ValueError(f"the {name} sample {source!r} has no rows: drift is undefined")
    return int(reference_rows), int(current_rows)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _long(source: str, columns: list[str], cast: str) -> str:
    """`source` as (feature, value) rows, one per row and column, NULLs kept."""
    select = ", ".join(f"CAST({_quote(c)} AS {cast}) AS {_quote(c)}" for c in columns)
    names = ", ".join(_quote(c) for c in columns)
    return (
        f"SELECT * FROM (SELECT {select} FROM {source}) "
        f"UNPIVOT INCLUDE NULLS (value FOR feature IN ({names}))"
    )


def _sides(reference: str, current: str, columns: list[str], cast: str) -> str:
    """Both samples as (is_current, feature, value) rows."""
    return (
        f"SELECT false AS is_current, feature, value FROM ({_long(reference, columns, cast)}) "
        f"UNION ALL "
        f"SELECT true AS is_current, feature, value FROM ({_long(current, columns, cast)})"
    )


SIDE_COUNTS = (
    "count(*) FILTER (WHERE NOT is_current) AS reference, "
    "count(*) FILTER (WHERE is_current) AS current"
)


def _numeric_bins(
    connection: duckdb.DuckDBPyConnection,
    reference: str,
    current: str,
    columns: list[str],
    bins: int,
) -> dict[str, Table]:
    """Rows per bin: a value's bin is the number of the reference's quantile edges below it.

    Edges are reference values (`quantile_disc`), so each bin is right-closed and a tied value
    never straddles two bins; repeated edges give the same label to every value between them,
    which is what collapsing them would do (a column with few distinct values has fewer bins).
    """
    quantiles = [k / bins for k in range(1, bins)]
    query = f"""
        WITH sides AS ({_sides(reference, current, columns, "DOUBLE")}),
        edges AS (
            SELECT feature, coalesce(quantile_disc(value, {quantiles}), []::DOUBLE[]) AS edges
            FROM sides WHERE NOT is_current GROUP BY feature
        )
        SELECT feature,
               CASE WHEN value IS NOT NULL
                    THEN len(list_filter(edges, lambda edge: edge < value)) END AS bin,
               {SIDE_COUNTS}
        FROM sides JOIN edges USING (feature)
        GROUP BY ALL
    """
    return _tables(connection.sql(query).fetchall())


def _ks(
    connection: duckdb.DuckDBPyConnection, reference: str, current: str, columns: list[str]
) -> dict[str, tuple[int, int, float]]:
    """Per feature: (reference non-null rows, current non-null rows, two-sample KS D).

    D is the largest gap between the two empirical CDFs, evaluated after each distinct
    value, so that tied values step both CDFs at once.
    """
    query = f"""
        WITH counts AS (
            SELECT feature, value, {SIDE_COUNTS}
            FROM ({_sides(reference, current, columns, "DOUBLE")})
            WHERE value IS NOT NULL GROUP BY feature, value
        ),
        cumulative AS (
            SELECT feature,
                   sum(reference) OVER (PARTITION BY feature) AS n,
                   sum(current) OVER (PARTITION BY feature) AS m,
                   sum(reference) OVER (PARTITION BY feature ORDER BY value) AS reference_upto,
                   sum(current) OVER (PARTITION BY feature ORDER BY value) AS current_upto
            FROM counts
        )
        SELECT feature, any_value(n), any_value(m),
               max(abs(reference_upto / nullif(n, 0) - current_upto / nullif(m, 0)))
        FROM cumulative GROUP BY feature
    """
    return {
        feature: (int(n), int(m), math.nan if d is None else float(d))
        for feature, n, m, d in connection.sql(query).fetchall()
    }


def _categorical_counts(
    connection: duckdb.DuckDBPyConnection, reference: str, current: str, columns: list[str]
) -> dict[str, Table]:
    """Rows per distinct value (as VARCHAR) of each column."""
    query = f"""
        SELECT feature, value, {SIDE_COUNTS}
        FROM ({_sides(reference, current, columns, "VARCHAR")})
        GROUP BY feature, value
    """
    return _tables(connection.sql(query).fetchall())


def _tables(rows: list[tuple[Any, ...]]) -> dict[str, Table]:
    tables: dict[str, Table] = defaultdict(dict)
    for feature, key, reference, current in rows:
        tables[feature][key] = (int(reference), int(current))
    return tables


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
    if not n or not m:
        return math.nan, math.nan
    return d, float(kstwobign.sf(d * math.sqrt(n * m / (n + m))))


def _chi_square(per_bin: list[tuple[int, int]]) -> tuple[float, float]:
    """Pearson's statistic of the current counts against the reference's (floored) shares,
    rescaled to the current total; degrees of freedom: bins - 1."""
    reference, current = _counts(per_bin)
    shares = _shares(reference)
    expected = current.sum() * shares / shares.sum()
    statistic = float(np.sum((current - expected) ** 2 / expected))
    dof = len(current) - 1
    return statistic, float(chi2.sf(statistic, dof)) if dof > 0 else math.nan
