"""The rate limit is the whole service's: each API worker admits 1/workers of a key's rate and
burst (and of the wrong-key guesses per address), so the workers together never admit more.
And how many workers there are."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from bentos.guard import FAILURE_BURST, ApiKeyGuard
from bentos.workers import api_workers


async def _statuses(guard: ApiKeyGuard, key: bytes, count: int) -> list[int]:
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/predict", "client": ("10.0.0.1", 1),
             "headers": [(b"x-api-key", key)]}  # fmt: skip
    for _ in range(count):
        await guard(scope, receive, send)
    return statuses


async def _answered(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_a_worker_admits_its_share_of_the_limit(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTPATH_API_KEYS", "k")
    monkeypatch.setenv("FLIGHTPATH_RATE_LIMIT", "20")
    monkeypatch.setenv("FLIGHTPATH_WORKERS", str(workers))
    guard = ApiKeyGuard(_answered)
    started = time.monotonic()
    statuses = asyncio.run(_statuses(guard, b"k", 40))
    allowed = (20 + 20 * (time.monotonic() - started)) / workers
    assert 20 // workers <= statuses.count(200) <= allowed and 429 in statuses

    guesses = asyncio.run(_statuses(guard, b"wrong", 30))
    assert FAILURE_BURST // workers <= guesses.count(401) <= FAILURE_BURST / workers + 1
    assert guesses[-1] == 429


def test_workers_are_the_setting_or_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLIGHTPATH_WORKERS", raising=False)
    assert api_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("FLIGHTPATH_WORKERS", "3")
    assert api_workers() == 3
    for wrong in ("0", "two", "-1"):
        monkeypatch.setenv("FLIGHTPATH_WORKERS", wrong)
        with pytest.raises(RuntimeError, match="FLIGHTPATH_WORKERS"):
            api_workers()
