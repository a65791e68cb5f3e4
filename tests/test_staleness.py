"""How old a flight's features are at its departure, and when the service calls them stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bentos.staleness import (
    DEFAULT_MAX_AGE_HOURS,
    MAX_AGE_VARIABLE,
    ages_at_departure,
    max_feature_age_hours,
    stale_views,
)

DEPARTURE = datetime(2013, 1, 18, 13, 0, tzinfo=UTC)


def test_ages_are_hours_before_the_departure_negative_after() -> None:
    computed = {
        "before": DEPARTURE - timedelta(hours=8),
        "after": DEPARTURE + timedelta(days=30),
        "absent": None,
    }
    assert ages_at_departure(DEPARTURE, computed) == {
        "before": 8.0,
        "after": -720.0,
        "absent": None,
    }


@pytest.mark.parametrize(
    ("age", "verdict"),
    [(0.0, None), (8.0, None), (48.0, None), (48.01, "too_old"), (-0.01, "future"), (None, None)],
)
def test_a_view_is_stale_from_the_future_or_past_the_limit(
    age: float | None, verdict: str | None
) -> None:
    assert stale_views({"aircraft": age}, 48.0).get("aircraft") == verdict


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_AGE_VARIABLE, raising=False)
    assert max_feature_age_hours() == DEFAULT_MAX_AGE_HOURS
    monkeypatch.setenv(MAX_AGE_VARIABLE, "6")
    assert max_feature_age_hours() == 6.0
    for wrong in ("0", "-3", "nan"):
        monkeypatch.setenv(MAX_AGE_VARIABLE, wrong)
        with pytest.raises(ValueError, match=MAX_AGE_VARIABLE):
            max_feature_age_hours()
