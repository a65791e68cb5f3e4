"""The challenger's shadow, batched off the request path: what is queued is scored (in batches,
at shutdown too), a full queue drops and counts, and every log row is the challenger's own
score for that row's flight."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from bentos.champion import Served
from bentos.schema import Flight
from bentos.service import _log_row
from bentos.shadow import (
    CLOSED,
    QUEUE_FULL,
    SCORING_FAILED,
    ShadowQueue,
    ShadowRow,
    shadow_log_rows,
)


class Recorder:
    """A `score` that remembers its batches, and can be held until released."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.started, self.release = threading.Event(), threading.Event()
        self.release.set()
        self.fail = fail

    def __call__(self, rows: list[int]) -> None:
        self.started.set()
        self.release.wait()
        if self.fail:
            raise ValueError("the challenger broke")
        self.batches.append(rows)


def _queue(score: Recorder, drops: Counter[str], **settings: Any) -> ShadowQueue[int]:
    return ShadowQueue(score, on_drop=lambda reason, n: drops.update({reason: n}), **settings)


def test_rows_of_many_requests_are_scored_in_one_call() -> None:
    score, drops = Recorder(), Counter[str]()
    queue = _queue(score, drops, max_rows=4, max_wait=60)
    assert queue.offer([1, 2]) and queue.offer([3, 4]) and queue.offer([5])
    queue.close()
    assert score.batches == [[1, 2, 3, 4], [5]] and not drops


def test_shutdown_scores_what_is_queued_without_waiting_for_a_batch_to_fill() -> None:
    score, drops = Recorder(), Counter[str]()
    queue = _queue(score, drops, max_rows=1000, max_wait=3600)
    queue.offer([1, 2, 3])
    queue.close()  # an hour's max_wait: returns only if closing ends the wait
    assert score.batches == [[1, 2, 3]]
    assert not queue.offer([4]) and drops == {CLOSED: 1}


def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    score, drops = Recorder(), Counter[str]()
    score.release.clear()  # the challenger is busy with the first batch
    queue = _queue(score, drops, capacity=3, max_rows=1, max_wait=0)
    queue.offer([0])
    assert score.started.wait(10)
    assert queue.offer([1, 2, 3])
    assert not queue.offer([4, 5])  # does not fit: both dropped, returns at once
    assert drops == {QUEUE_FULL: 2}
    score.release.set()
    queue.close()
    assert [row for batch in score.batches for row in batch] == [0, 1, 2, 3]


def test_a_failing_challenger_is_counted_and_the_shadow_goes_on() -> None:
    score, drops = Recorder(fail=True), Counter[str]()
    queue = _queue(score, drops, max_rows=2, max_wait=60)
    queue.offer([1, 2])
    queue.offer([3])
    queue.close()
    assert drops == {SCORING_FAILED: 3}


@dataclass
class ScaledFeature:
    """A model whose answer is one feature times `scale`: a row scored against another row's
    features, or by the other challenger, shows. It counts the rows it encodes."""

    scale: float
    encoded: int = 0

    @property
    def spec(self) -> ScaledFeature:
        return self

    def rows(self, records: list[dict[str, Any]]) -> np.ndarray:
        self.encoded += len(records)
        return np.array([[r["x"]] for r in records], np.float32)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return matrix[:, 0] * self.scale

    def __eq__(self, other: object) -> bool:  # as FeatureSpec: the same encoding
        return isinstance(other, ScaledFeature) and other.scale == self.scale


def _shadow_rows(old: ScaledFeature, new: ScaledFeature, encoder: ScaledFeature) -> list[ShadowRow]:
    """Nine rows, the champion's encoding of each by `encoder`; a swap while they queued: the
    batch holds both challengers, interleaved."""
    flight = Flight(carrier="UA", flight=1, tailnum="N1", origin="EWR", dest="ORD",
                    sched_dep=datetime(2013, 1, 18, 12, tzinfo=UTC))  # fmt: skip
    challengers = Served("mlp:old", old), Served("mlp:new", new)  # type: ignore[arg-type]
    rows = []
    for i in range(9):
        record, stale = {"x": i + 1}, {"aircraft": "older than 48 h"} if i % 2 else {}
        logged = _log_row(f"req{i // 2}", f"flight{i}", flight, "lgbm:1", "champion", 0.5, record,
                          [], {"aircraft": float(i)}, stale)  # fmt: skip
        encoded = np.array([1000.0 * (i + 1) if encoder.scale == 9 else i + 1], np.float32)
        rows.append(ShadowRow(challengers[i % 3 == 0], record, logged, encoder, encoded))
    return rows


@pytest.mark.parametrize("champion_scale", [0.001, 9.0], ids=["same spec", "other spec"])
def test_each_shadow_row_is_its_challengers_score_of_its_own_flight(
    champion_scale: float,
) -> None:
    """The champion's encoded row is reused only by a challenger with the same spec: the
    other spec's rows (1000 times the feature) would give scores 1000 times too high."""
    old, new = ScaledFeature(0.001), ScaledFeature(0.002)
    rows = _shadow_rows(old, new, ScaledFeature(champion_scale))
    logged = shadow_log_rows(
        rows,
        lambda served, matrix: served.model.predict(matrix),
        lambda tag, probability: {"model": tag, "role": "shadow", "probability": probability},
    )
    for row, log in zip(rows, logged, strict=True):
        assert log["probability"] == pytest.approx(row.record["x"] * row.challenger.model.scale)
        assert (log["model"], log["role"]) == (row.challenger.tag, "shadow")
        assert log.keys() == row.logged.keys()
        kept = row.logged.keys() - {"model", "role", "probability"}
        assert {k: log[k] for k in kept} == {k: row.logged[k] for k in kept}  # as answered
    reused = champion_scale == old.scale
    # Each challenger encodes its own rows only when the champion's encoding is not its own.
    assert old.encoded == (0 if reused else 6)
    assert new.encoded == 3


def test_the_queue_size_setting_is_checked_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bentos.service import DelayService
    from bentos.shadow import shadow_queue_rows

    monkeypatch.setenv("FLIGHTPATH_AUTH", "off")
    monkeypatch.delenv("FLIGHTPATH_SHADOW_QUEUE_ROWS", raising=False)
    assert shadow_queue_rows() == 10_000
    monkeypatch.setenv("FLIGHTPATH_SHADOW_QUEUE_ROWS", "0")  # no shadow kept: allowed
    assert shadow_queue_rows() == 0
    for wrong in ("lots", "-5", "1.5", ""):
        monkeypatch.setenv("FLIGHTPATH_SHADOW_QUEUE_ROWS", wrong)
        with pytest.raises(ValueError, match="FLIGHTPATH_SHADOW_QUEUE_ROWS"):
            shadow_queue_rows()
        # `bentoml serve`'s own process refuses before any worker starts, naming the variable.
        with pytest.raises(ValueError, match="FLIGHTPATH_SHADOW_QUEUE_ROWS"):
            DelayService.inner.refuse_to_start()


def test_the_canary_share_is_checked_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bentos.service import DelayService

    monkeypatch.setenv("FLIGHTPATH_AUTH", "off")
    for wrong in ("half", "1.5", "-0.1", "nan", ""):
        monkeypatch.setenv("FLIGHTPATH_CANARY_FRACTION", wrong)
        # Not a worker crash-looping on float(): `bentoml serve` refuses, naming the variable.
        with pytest.raises(ValueError, match="FLIGHTPATH_CANARY_FRACTION"):
            DelayService.inner.refuse_to_start()
