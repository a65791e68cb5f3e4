"""A reference sample reduced, once, to what drift against it needs.

Per numeric column: the sample's decile edges (`quantile_disc`, as drift has always used), its
rows per bin, its NULLs and an `EcdfSketch` for KS; per categorical column: rows per value (as
VARCHAR) and NULLs. It is computed when a model is trained and saved with it, so the daily
drift reads only the current window, whatever the size of the reference.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flightpath.monitoring.ecdf_sketch import KNOTS, EcdfSketch

BINS = 10
SCORE = "probability"  # the scores' column: a profile's reference scores, a window's scores
PROFILE_FILE = "drift_profile.parquet"
"""The profile's file in a model's directory (recorded in its checksums like the model's)."""
COLUMNS = ["feature", "kind", "entry", "position", "value", "category", "rows", "below"]


@dataclass(frozen=True)
class NumericProfile:
    rows: int  # the sample's rows, NULLs included
    missing: int
    edges: np.ndarray  # the non-null values' deciles: a value's bin is the count of edges < it
    bin_rows: dict[int, int]  # rows per bin that has any
    ecdf: EcdfSketch


@dataclass(frozen=True)
class CategoricalProfile:
    rows: int
    missing: int
    category_rows: dict[str, int]  # rows per non-null value


FeatureProfile = NumericProfile | CategoricalProfile


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class ReferenceProfile:
    features: dict[str, FeatureProfile]

    def __or__(self, other: ReferenceProfile) -> ReferenceProfile:
        return ReferenceProfile({**self.features, **other.features})

    def covers(self, names: list[str]) -> bool:
        return set(names) <= set(self.features)

    def describe(self) -> dict[str, Any]:
        """For metadata: rows per feature sample, and KS D's largest possible error."""
        bounds = [p.ecdf.bound for p in self.features.values() if isinstance(p, NumericProfile)]
        return {
            "rows": {name: p.rows for name, p in self.features.items()},
            "ks_bound": max(bounds, default=0.0),
        }

    # --- storage: one long Parquet table, read without pickle ---

    def to_frame(self) -> pd.DataFrame:
        parts = []
        for name, p in self.features.items():
            kind = "numeric" if isinstance(p, NumericProfile) else "categorical"
            parts.append(_entries(name, kind, "rows", rows=[p.rows]))
            parts.append(_entries(name, kind, "missing", rows=[p.missing]))
            if isinstance(p, NumericProfile):
                parts.append(_entries(name, kind, "edge", value=p.edges))
                parts.append(_entries(name, kind, "bin", position=list(p.bin_rows),
                                      rows=list(p.bin_rows.values())))  # fmt: skip
                parts.append(_entries(name, kind, "knot", value=p.ecdf.knots,
                                      rows=p.ecdf.at_or_below, below=p.ecdf.below))  # fmt: skip
            else:
                parts.append(_entries(name, kind, "category", category=list(p.category_rows),
                                      rows=list(p.category_rows.values())))  # fmt: skip
        return pd.concat(parts, ignore_index=True)[COLUMNS]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ReferenceProfile:
        return cls.from_table(pa.Table.from_pandas(frame, preserve_index=False))

    @classmethod
    def from_table(cls, table: pa.Table) -> ReferenceProfile:
        """The profile in `table` (`to_frame`'s layout, rows in any order)."""
        missing = set(COLUMNS) - set(table.column_names)
        if missing:
            raise ValueError(f"not a drift profile: no column(s) {sorted(missing)}")
        table = table.sort_by([(name, "ascending") for name in ("feature", "entry", "position")])
        c = {name: table[name].to_numpy(zero_copy_only=False) for name in COLUMNS}
        # Whole columns, sliced per (feature, entry) run: a pandas groupby here cost more than
        # the day's drift itself.
        change = (c["feature"][1:] != c["feature"][:-1]) | (c["entry"][1:] != c["entry"][:-1])
        starts = np.r_[0, np.flatnonzero(change) + 1]
        ends = np.r_[starts[1:], len(c["feature"])]
        runs = {(c["feature"][a], c["entry"][a]): slice(a, b)
                for a, b in zip(starts, ends, strict=True)}  # fmt: skip
        features: dict[str, FeatureProfile] = {}
        for name in dict.fromkeys(c["feature"]):

            def part(entry: str, column: str, name: str = name) -> np.ndarray:
                return c[column][runs.get((name, entry), slice(0, 0))]

            total, nulls = int(part("rows", "rows")[0]), int(part("missing", "rows")[0])
            kind = c["kind"][runs[(name, "rows")]][0]
            if kind == "numeric":
                features[name] = NumericProfile(
                    total, nulls, part("edge", "value").astype(np.float64),
                    dict(zip(part("bin", "position").tolist(), part("bin", "rows").tolist(),
                             strict=True)),
                    EcdfSketch(part("knot", "value").astype(np.float64),
                               part("knot", "rows").astype(np.int64),
                               part("knot", "below").astype(np.int64)),
                )  # fmt: skip
            elif kind == "categorical":
                features[name] = CategoricalProfile(total, nulls, dict(zip(
                    part("category", "category").tolist(), part("category", "rows").tolist(),
                    strict=True,
                )))  # fmt: skip
            else:
                raise ValueError(f"not a drift profile: {name} is of kind {kind!r}")
        return cls(features)

    def write(self, path: Path) -> None:
        pq.write_table(pa.Table.from_pandas(self.to_frame(), preserve_index=False), path)

    @classmethod
    def from_parquet(cls, data: bytes) -> ReferenceProfile:
        # ParquetFile, not read_table: the latter's first call loads pyarrow.dataset (1-2 s).
        return cls.from_table(pq.ParquetFile(io.BytesIO(data)).read(use_threads=False))


def _entries(
    feature: str, kind: str, entry: str, *, position: Any = None, value: Any = None,
    category: Any = None, rows: Any = None, below: Any = None,
) -> pd.DataFrame:  # fmt: skip
    length = len(next(c for c in (position, value, category, rows) if c is not None))
    return pd.DataFrame({
        "feature": feature, "kind": kind, "entry": entry,
        "position": np.arange(length) if position is None else position,
        "value": np.nan if value is None else value,
        "category": pd.Series([None] * length if category is None else category, dtype=object),
        "rows": pd.Series(0 if rows is None else rows, index=range(length), dtype=np.int64),
        "below": pd.Series(0 if below is None else below, index=range(length), dtype=np.int64),
    })  # fmt: skip


def reference_profile(
    connection: duckdb.DuckDBPyConnection,
    reference: str,
    numeric: list[str],
    categorical: list[str],
    bins: int = BINS,
    knots: int = KNOTS,
) -> ReferenceProfile:
    """The profile of `reference`, a DuckDB table expression (a table or view name,
    `read_parquet('...')` or `(SELECT ...)`); one column in memory at a time."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, not {bins}")
    [(rows,)] = connection.sql(f"SELECT count(*) FROM {reference}").fetchall()
    if rows == 0:
        raise ValueError(f"the reference sample {reference!r} has no rows: drift is undefined")
    quantiles = [k / bins for k in range(1, bins)]
    features: dict[str, FeatureProfile] = {}
    for name in numeric:
        column = f"CAST({quote(name)} AS DOUBLE)"
        # The edges by DuckDB's own quantile_disc, so that they are the ones drift always used.
        [(edges,)] = connection.sql(
            f"SELECT coalesce(quantile_disc({column}, {quantiles}), []::DOUBLE[]) FROM {reference}"
        ).fetchall()
        values = connection.sql(
            f"SELECT {column} AS v FROM {reference} WHERE {column} IS NOT NULL"
        ).to_arrow_table()["v"]
        ordered = np.sort(values.to_numpy())
        del values
        edges = np.array(edges, np.float64)
        labels, counts = np.unique(np.searchsorted(edges, ordered, side="left"), return_counts=True)
        features[name] = NumericProfile(
            rows,
            rows - len(ordered),
            edges,
            dict(zip(labels.tolist(), counts.tolist(), strict=True)),
            EcdfSketch.of(ordered, knots),
        )
    for name in categorical:
        counted = connection.sql(
            f"SELECT CAST({quote(name)} AS VARCHAR) AS value, count(*) AS n FROM {reference} "
            "GROUP BY ALL ORDER BY value NULLS LAST"
        ).fetchall()
        category_rows = {value: int(n) for value, n in counted if value is not None}
        features[name] = CategoricalProfile(rows, rows - sum(category_rows.values()), category_rows)
    return ReferenceProfile(features)
