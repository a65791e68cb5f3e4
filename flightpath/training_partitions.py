"""The feature partitions a training set read, each by content version: saved with the model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Partitions:
    """The `flight_features` partitions a training set read: day -> content version."""

    versions: dict[str, str]

    @property
    def first(self) -> str | None:
        return min(self.versions) if self.versions else None

    @property
    def last(self) -> str | None:
        return max(self.versions) if self.versions else None

    @property
    def missing_days(self) -> list[str]:
        """Days inside first..last without a partition (the training set read none for them)."""
        if not self.versions:
            return []
        start, end = date.fromisoformat(str(self.first)), date.fromisoformat(str(self.last))
        every = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return [d.isoformat() for d in every if d.isoformat() not in self.versions]

    def summary(self) -> str:
        """E.g. `2013-01-01..2013-01-20 (20 partitions)`; gaps are counted, not hidden."""
        if not self.versions:
            return "none recorded"
        count = len(self.versions)
        text = f"{self.first}..{self.last} ({count} partition{'s' if count != 1 else ''}"
        gaps = len(self.missing_days)
        return text + (f", {gaps} day{'s' if gaps != 1 else ''} missing)" if gaps else ")")

    def as_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "count": len(self.versions),
            "missing_days": self.missing_days,
            "versions": dict(sorted(self.versions.items())),
        }
