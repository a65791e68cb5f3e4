"""The promotion gate as a Dagster asset check: one spec and one result for every evaluation."""

from typing import Any

import dagster as dg

GATE = "promotion_gate"


def gate_spec(asset: dg.AssetKey, slices: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        GATE,
        asset=asset,
        blocking=True,  # a candidate that fails it never becomes the champion
        description="The best candidate beats the champion (or the naive baseline) on the "
        "same test rows by the margin, with a bootstrap interval above zero, calibrated, "
        f"and no large {slices} slice worse.",
    )


def gate_result(winner: str | None, summary: str, verdicts: list[Any]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=GATE,
        passed=winner is not None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary,
        metadata={"verdicts": dg.MetadataValue.json(verdicts)},
    )
