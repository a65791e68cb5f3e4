"""The champion (and challenger) the service answers with, swapped when an alias moves.

A thread polls the registry's aliases once a second; a newly promoted model is loaded beside
the old one and then swapped in with one assignment, so a request sees the old model or the
new one, never neither: no restart, no failed request.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flightpath.models.registry import CHALLENGER, CHAMPION, DelayModel, ModelRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    tag: str
    model: DelayModel


@dataclass(frozen=True)
class Lineup:
    champion: Served
    challenger: Served | None


class ChampionWatcher:
    def __init__(self, registry: ModelRegistry, poll_seconds: float = 1.0) -> None:
        self.registry = registry
        self.lineup = self._load(None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(poll_seconds,), daemon=True)
        self._thread.start()

    def _load(self, current: Lineup | None) -> Lineup:
        champion_tag = self.registry.alias(CHAMPION)
        if champion_tag is None:
            raise RuntimeError(f"no champion in {self.registry.root}: run `flightpath train` first")
        challenger_tag = self.registry.alias(CHALLENGER)

        def served(tag: str, now: Served | None) -> Served:
            return (
                now if now is not None and now.tag == tag else Served(tag, self.registry.load(tag))
            )

        champion = served(champion_tag, current.champion if current else None)
        challenger = None
        if challenger_tag and challenger_tag != champion_tag:
            challenger = served(challenger_tag, current.challenger if current else None)
        return Lineup(champion, challenger)

    def _watch(self, poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                lineup = self._load(self.lineup)
            except Exception:  # a half-written model or a registry hiccup: keep serving, retry
                log.exception("could not load the promoted model; still serving the current one")
                continue
            if lineup != self.lineup:
                log.info("now serving %s (challenger %s)", lineup.champion.tag,
                         lineup.challenger.tag if lineup.challenger else None)  # fmt: skip
                self.lineup = lineup

    def close(self) -> None:
        self._stop.set()
