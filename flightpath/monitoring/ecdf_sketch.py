"""A reference column's empirical CDF kept at a few thousand knots, for KS against any sample.

The knots are reference values at evenly spaced ranks, each with the exact number of reference
values at or below it and below it. Between two knots the CDF is interpolated linearly, so it is
off by at most the share of reference values strictly between them (`bound`): exact at every
knot, and everywhere when the column has no more distinct values than knots. A two-sample KS D
computed against the sketch is then within `bound` of the exact D, because
|sup|F' - G| - sup|F - G|| <= sup|F' - F| for any current ECDF G.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KNOTS = 10_001
"""Knots per column: 10,000 rank steps, so `bound` stays below 1e-4 at any reference size."""


@dataclass(frozen=True)
class EcdfSketch:
    knots: np.ndarray  # distinct reference values, ascending (float64)
    at_or_below: np.ndarray  # reference values <= each knot (int64); the last is `rows`
    below: np.ndarray  # reference values < each knot (int64)

    @classmethod
    def of(cls, ordered: np.ndarray, knots: int = KNOTS) -> EcdfSketch:
        """The sketch of `ordered`, a column's non-null values sorted ascending: every
        distinct value when there are at most `knots`, else values at evenly spaced ranks."""
        if knots < 2:
            raise ValueError(f"a sketch needs at least 2 knots, not {knots}")
        if not len(ordered):
            empty = np.empty(0, np.int64)
            return cls(np.empty(0, np.float64), empty, empty)
        values = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]  # distinct, ascending
        if len(values) > knots:
            ranks = np.round(np.linspace(0, len(ordered) - 1, knots)).astype(np.int64)
            values = np.unique(ordered[ranks])
        return cls(
            values,
            np.searchsorted(ordered, values, side="right").astype(np.int64),
            np.searchsorted(ordered, values, side="left").astype(np.int64),
        )

    @property
    def rows(self) -> int:
        return int(self.at_or_below[-1]) if len(self.knots) else 0

    @property
    def bound(self) -> float:
        """The largest error of `cdf` anywhere: the largest share of reference values strictly
        between two neighbouring knots (0: the sketch is the exact ECDF)."""
        if len(self.knots) < 2:
            return 0.0
        return float(np.max(self.below[1:] - self.at_or_below[:-1]) / self.rows)

    def cdf(self, x: np.ndarray, *, strictly_below: bool = False) -> np.ndarray:
        """The share of reference values <= x (< x with `strictly_below`), within `bound`."""
        v, last = self.knots, len(self.knots) - 1
        j = np.searchsorted(v, x, side="right") - 1  # the last knot at or below x; -1: none
        here, after = np.clip(j, 0, last), np.clip(j + 1, 0, last)
        on_knot = (j >= 0) & (v[here] == x)
        gap = v[after] - v[here]
        step = np.divide(x - v[here], gap, out=np.zeros(len(x)), where=gap > 0)
        between = self.at_or_below[here] + (self.below[after] - self.at_or_below[here]) * step
        exact = (self.below if strictly_below else self.at_or_below)[here]
        counts = np.where(
            j < 0, 0.0, np.where(on_knot, exact, np.where(j == last, self.rows, between))
        )
        return np.asarray(counts / self.rows, dtype=np.float64)


def ks_distance(sketch: EcdfSketch, values: np.ndarray) -> float:
    """Two-sample KS D of `values` (non-null) against the sketched reference, within
    `sketch.bound` of the exact D; NaN when either side has no values.

    Both CDFs are compared at and just below every knot and every current value: between two
    such points the sketch is linear and the current ECDF constant, so the largest gap is at one
    of them.
    """
    if not sketch.rows or not len(values):
        return float("nan")
    ordered = np.sort(values)
    points = np.union1d(sketch.knots, ordered)
    at = np.searchsorted(ordered, points, side="right") / len(ordered)
    below = np.searchsorted(ordered, points, side="left") / len(ordered)
    return float(
        max(
            np.max(np.abs(sketch.cdf(points) - at)),
            np.max(np.abs(sketch.cdf(points, strictly_below=True) - below)),
        )
    )
