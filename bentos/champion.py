"""The champion (and challenger) the service answers with, swapped when an alias moves.

A thread polls the registry's aliases once a second; a newly promoted model is loaded beside
the old one and then swapped in with one assignment, so a request sees the old model or the
new one, never neither: no restart, no failed request.

A promoted model whose files do not verify (checksums, format) is refused, never parsed: the
service keeps answering with the model it has, and `problem` (and the `on_refusal` callback,
the service's `flightpath_model_refused` gauge) says which tag was refused and why. At startup
it falls back down the alias's stack to the newest model that verifies; with none, it refuses
to start, saying why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flightpath.models.registry import (
    CHALLENGER,
    CHAMPION,
    DelayModel,
    ModelRegistry,
    RegistryError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    tag: str
    model: DelayModel


@dataclass(frozen=True)
class Refusal:
    alias: str
    tag: str
    reason: str  # the registry's message: names the tag, the file and what is wrong with it


@dataclass(frozen=True)
class Lineup:
    champion: Served
    challenger: Served | None
    refused: tuple[Refusal, ...] = ()


class ChampionWatcher:
    def __init__(
        self,
        registry: ModelRegistry,
        poll_seconds: float = 1.0,
        on_refusal: Callable[[Refusal, bool], None] | None = None,
        alias: str = CHAMPION,
        challenger_alias: str | None = CHALLENGER,
    ) -> None:
        """`on_refusal(refusal, active)` is called when a refusal starts and when it ends.
        `alias` and `challenger_alias` name what is served (a use case's own `<name>/champion`
        and no challenger, say); by default the flights service's champion and challenger."""
        self.registry = registry
        self.alias, self.challenger_alias = alias, challenger_alias
        self._report = on_refusal or (lambda refusal, active: None)
        # A version's files never heal (a fix is a new version): a refused tag is not retried.
        self._refused: dict[str, str] = {}
        self.lineup = self._load(None)
        self._announce(Lineup(self.lineup.champion, None), self.lineup)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(poll_seconds,), daemon=True)
        self._thread.start()

    @property
    def problem(self) -> str | None:
        """Which promoted models are refused and why, or None when all are served."""
        lineup = self.lineup
        if not lineup.refused:
            return None
        refusals = "; ".join(f"{r.alias}: {r.reason}" for r in lineup.refused)
        return f"{refusals} (serving champion {lineup.champion.tag})"

    def _load(self, current: Lineup | None) -> Lineup:
        aliases = self.registry.aliases()
        stack = aliases.get(self.alias, [])
        if not stack:
            hint = "run `flightpath train` first" if self.alias == CHAMPION else "promote one first"
            raise RuntimeError(f"no {self.alias} in {self.registry.root}: {hint}")
        champion, refused = self._pick(self.alias, stack, current.champion if current else None)
        if champion is None:
            raise RuntimeError(
                f"no {self.alias} in {self.registry.root} verifies, so the service will not "
                "start: " + "; ".join(r.reason for r in refused)
            )
        now = current.challenger if current else None
        waiting = aliases.get(self.challenger_alias, []) if self.challenger_alias else []
        challenger, also = self._pick(self.challenger_alias or "", waiting, now)
        if challenger is not None and challenger.tag == champion.tag:
            challenger = None
        return Lineup(champion, challenger, (*refused, *also))

    def _pick(
        self, alias: str, stack: list[str], now: Served | None
    ) -> tuple[Served | None, list[Refusal]]:
        """The alias's current model; if refused, the one being served (at startup, the newest
        older entry of the stack that verifies); and what was refused on the way."""
        refused: list[Refusal] = []
        fallbacks = [now.tag] if now is not None else stack[-2::-1]
        for tag in dict.fromkeys(stack[-1:] + fallbacks):
            if now is not None and now.tag == tag:
                return now, refused
            if tag not in self._refused:
                try:
                    return Served(tag, self.registry.load(tag)), refused
                except RegistryError as error:
                    self._refused[tag] = str(error)
            refused.append(Refusal(alias, tag, self._refused[tag]))
        return None, refused

    def _announce(self, before: Lineup, after: Lineup) -> None:
        for refusal in set(before.refused) - set(after.refused):
            self._report(refusal, False)
        for refusal in set(after.refused) - set(before.refused):
            log.error("REFUSED %s %s, serving %s instead: %s", refusal.alias, refusal.tag,
                      after.champion.tag, refusal.reason)  # fmt: skip
            self._report(refusal, True)

    def _watch(self, poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                lineup = self._load(self.lineup)
            except Exception:  # a registry hiccup (aliases unreadable): keep serving, retry
                log.exception("could not read the promoted models; still serving the current ones")
                continue
            if lineup != self.lineup:
                log.info("now serving %s (challenger %s)", lineup.champion.tag,
                         lineup.challenger.tag if lineup.challenger else None)  # fmt: skip
                self._announce(self.lineup, lineup)
                self.lineup = lineup

    def close(self) -> None:
        self._stop.set()
