"""Ingestion and features at once: each day's features are built as soon as the day is in the lake.

`flightpath ingest` then `flightpath features` leave one of a machine's cores idle for the whole
graph: every day is one Dagster run in one Python process. Here ingestion runs in a child
process and hands each day over as soon as it is in the lake; the parent applies the Feast repo
meanwhile, then builds each day's features while the child ingests the next. The runs, checks
and results are those of the two commands one after the other (tests/test_cli.py): a day's
features read only its own and earlier days, which are in the lake before it is handed over,
and a day that fails ingestion is never handed over, so its features are not built.
"""

import multiprocessing
import queue
from collections.abc import Iterator
from datetime import date
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from apps.ingest import RunSummary, build_features, ingest, landed_days

POLL_SECONDS = 1.0  # how often the parent looks whether a silent child is still alive


class IngestionStopped(RuntimeError):
    """The ingesting child ended without its summary (killed, or crashed)."""


def ingest_with_features(
    through: date, force: bool = False, progress: bool = True
) -> tuple[RunSummary, RunSummary]:
    """The summaries of `ingest(through)` and `build_features(through)`, run overlapped."""
    # spawn, not fork: the parent holds Dagster's and Feast's threads and connections.
    context = multiprocessing.get_context("spawn")
    handed: Queue[str | RunSummary] = context.Queue()
    child = context.Process(target=_ingest, args=(through, force, progress, handed), daemon=True)
    child.start()
    days = HandedDays(handed, child)
    try:
        features = build_features(
            through, force, progress, days=days, total=len(landed_days(through)), position=1
        )
        ingested = days.summary()
    finally:
        child.join(timeout=5)
        if child.is_alive():  # the features stage failed early: the child is not waited for
            child.terminate()
    return ingested, features


def _ingest(through: date, force: bool, progress: bool, handed: "Queue[str | RunSummary]") -> None:
    summary = ingest(through, force, progress, on_day=handed.put)
    handed.put(summary)


class HandedDays:
    """The days the child has put in the lake, in order, until it sends its summary."""

    def __init__(self, handed: "Queue[str | RunSummary]", child: BaseProcess) -> None:
        self._handed = handed
        self._child = child
        self._summary: RunSummary | None = None

    def __iter__(self) -> Iterator[str]:
        while self._summary is None:
            try:
                item = self._handed.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._child.is_alive() and self._handed.empty():
                    raise IngestionStopped(
                        f"ingestion stopped (exit code {self._child.exitcode}) before it "
                        "reported; its runs are in the Dagster UI"
                    ) from None
                continue
            if isinstance(item, RunSummary):
                self._summary = item
            else:
                yield item

    def summary(self) -> RunSummary:
        """Ingestion's summary; waits for it when the features stage stopped early."""
        if self._summary is None:
            for _ in self:
                pass
        assert self._summary is not None
        return self._summary
