"""The model registry: BentoML's model store plus aliases (`champion`, `challenger`).

An alias is a stack of tags whose top is current: promoting pushes, rolling back pops. Every
change is appended to `promotions.jsonl` with who made it and why, so the history is never
rewritten. A model's files are checksummed when saved; an alias only ever moves to a model that
verifies (checksums, then a load and a prediction in a child process, see `probe.py`).

In the production profile (`FLIGHTPATH_STORAGE_URL`) the bucket holds the shared copy: every
saved version is pushed there, versions this store lacks are imported from it (and verified like
any other), and the aliases and their history are read and written there (`shared_store.py`).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import bentoml
import numpy as np

# BentoML reads BENTOML_HOME once, at import; a store object per home lets one process (the
# tests, the CLI with --home) hold several. `_model_store` is how bentoml.models takes one.
from bentoml._internal.models.model import ModelStore

from flightpath.models.artifacts import (
    ArtifactError,
    load_model,
    record_checksums,
    verified_files,
)
from flightpath.models.features import FeatureSpec
from flightpath.models.probe import probe
from flightpath.models.shared_store import (
    AliasConflict,
    AliasState,
    SharedModels,
    UnimportableModel,
)
from flightpath.monitoring.profile import PROFILE_FILE, ReferenceProfile
from flightpath.storage import models_location

CHAMPION, CHALLENGER = "champion", "challenger"


class DelayModel(Protocol):
    spec: FeatureSpec

    def predict(self, matrix: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class AliasChange:
    at: str
    action: str  # promote | rollback
    alias: str
    tag: str | None
    previous: str | None
    reason: str
    actor: str = "unknown"  # who: FLIGHTPATH_ACTOR, the OS user or a Dagster run (`default_actor`)


class RegistryError(RuntimeError):
    """A registry request that cannot be carried out (unknown tag, nothing to roll back to, a
    model whose files do not verify)."""


def default_actor() -> str:
    """Who is changing an alias: `FLIGHTPATH_ACTOR` when set (a CI job, a bot), else the OS user."""
    try:
        return os.environ.get("FLIGHTPATH_ACTOR") or getpass.getuser()
    except OSError:  # a container user with no passwd entry
        return "unknown"


class ModelRegistry:
    def __init__(self, root: Path, shared: str | None = None) -> None:
        """`root` is a BentoML home: models live in `root/models`, as `bentoml serve` expects.
        `shared` (default: `<FLIGHTPATH_STORAGE_URL>/models` when set) is the bucket's copy."""
        self.root = root
        (root / "models").mkdir(parents=True, exist_ok=True)
        self.store = ModelStore(root / "models")
        self._aliases = root / "aliases.json"
        self._log = root / "promotions.jsonl"
        url = shared or models_location()
        self.shared = SharedModels(url) if url else None
        self._read = AliasState({}, None)  # the bucket's aliases as `_locked` read them

    # --- models ---

    @contextmanager
    def create(
        self, name: str, framework: str, metadata: dict[str, Any]
    ) -> Iterator[bentoml.Model]:
        """A new model version; write its files into `model.path` inside the `with`. Their
        checksums are recorded when it ends, before the version enters the store."""
        with bentoml.models.create(
            name,
            labels={"framework": framework},
            metadata=metadata,
            _model_store=self.store,
        ) as model:
            yield model
            record_checksums(Path(model.path))
        if self.shared is not None:  # saved: now every other machine can have it
            self.shared.push(self.store, str(model.tag))

    def get(self, tag: str) -> bentoml.Model:
        try:
            return bentoml.models.get(tag, _model_store=self.store)
        except bentoml.exceptions.NotFound:
            if self._imported(tag):
                return self.get(tag)
            raise RegistryError(f"no model {tag!r} in {self.root}") from None
        except (ValueError, bentoml.exceptions.BentoMLException) as error:
            raise RegistryError(f"{tag!r} is not a model tag (name:version): {error}") from None

    def _imported(self, tag: str) -> bool:
        """Import `tag` from the bucket; False when there is none to import from. The checksums
        are checked where every model's are, when it is loaded or verified."""
        if self.shared is None:
            return False
        # The service's workers share this store: one imports, the others find it imported.
        with open(self.root / ".import.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                bentoml.models.get(tag, _model_store=self.store)
                return True
            except bentoml.exceptions.NotFound:
                pass
            try:
                return self.shared.pull(self.store, tag)
            except UnimportableModel as error:
                raise RegistryError(f"{tag} refused: {error}") from None

    def metadata(self, tag: str) -> dict[str, Any]:
        """What the model was saved with: its split, metrics, lineage."""
        return dict(self.get(tag).info.metadata)

    def models(self, name: str | None = None) -> list[bentoml.Model]:
        """Every version, oldest first."""
        found = bentoml.models.list(name, _model_store=self.store)
        return sorted(found, key=lambda model: model.info.creation_time)

    def latest(self, name: str) -> bentoml.Model:
        found = self.models(name)
        if not found:
            raise RegistryError(f"no model named {name!r} yet: train it first")
        return found[-1]

    def load(self, tag: str) -> DelayModel:
        """The model behind a tag, ready to predict: its checksums and format are checked
        before it is parsed in this process, and no pickle is read."""
        model = self.get(tag)
        try:
            return load_model(
                Path(model.path), model.info.labels["framework"], dict(model.info.metadata)
            )
        except ArtifactError as error:
            raise RegistryError(f"{model.tag} refused: {error}") from None

    def verify(self, tag: str) -> str:
        """`tag` in full once it loads and predicts in a child process (where a crash is only
        a refusal); RegistryError naming the tag and the file otherwise."""
        model = self.get(tag)
        try:
            probe(Path(model.path), model.info.labels["framework"], dict(model.info.metadata))
        except ArtifactError as error:
            raise RegistryError(f"{model.tag} refused: {error}") from None
        return str(model.tag)

    def drift_profile(self, tag: str) -> ReferenceProfile | None:
        """The reference profile saved with the model, once its checksums verify; None for a
        model saved without one (before profiles were)."""
        model = self.get(tag)
        try:
            data = verified_files(Path(model.path)).get(PROFILE_FILE)
            return None if data is None else ReferenceProfile.from_parquet(data)
        except ArtifactError as error:
            raise RegistryError(f"{model.tag} refused: {error}") from None
        except (ValueError, OSError) as error:  # checksummed at save, so written broken
            raise RegistryError(
                f"{model.tag} refused: {PROFILE_FILE} does not load: {error}"
            ) from None

    def damage(self, tag: str) -> str | None:
        """What is wrong with the tag's files by their checksums, or None (cheap: nothing is
        parsed, for listings; `verify` is the full check)."""
        try:
            verified_files(Path(self.get(tag).path))
        except ArtifactError as error:
            return str(error)
        return None

    # --- aliases ---

    def aliases(self) -> dict[str, list[str]]:
        if self.shared is not None:
            return self.shared.state().aliases
        return json.loads(self._aliases.read_text()) if self._aliases.exists() else {}

    def alias(self, alias: str = CHAMPION) -> str | None:
        stack = self.aliases().get(alias, [])
        return stack[-1] if stack else None

    def promote(
        self, tag: str, reason: str, alias: str = CHAMPION, actor: str | None = None
    ) -> AliasChange:
        """Point `alias` at `tag` once it verifies; `actor` defaults to `default_actor()`."""
        tag = self.verify(tag)  # also normalises "name:latest" and refuses unknown tags
        with self._locked() as aliases:
            stack = aliases.setdefault(alias, [])
            previous = stack[-1] if stack else None
            if previous != tag:
                stack.append(tag)
            return self._record(aliases, "promote", alias, tag, previous, reason, actor)

    def rollback(self, reason: str, alias: str = CHAMPION, actor: str | None = None) -> AliasChange:
        """Restore the model before the current one, once it verifies."""
        with self._locked() as aliases:
            stack = aliases.get(alias, [])
            if len(stack) < 2:
                raise RegistryError(f"{alias} has no previous model to roll back to")
            self.verify(stack[-2])
            previous = stack.pop()
            return self._record(aliases, "rollback", alias, stack[-1], previous, reason, actor)

    def history(self) -> list[AliasChange]:
        if self.shared is not None:
            return [AliasChange(**change) for change in self.shared.history()]
        if not self._log.exists():
            return []
        return [AliasChange(**json.loads(line)) for line in self._log.read_text().splitlines()]

    @contextmanager
    def _locked(self) -> Iterator[dict[str, list[str]]]:
        """Read-modify-write of the aliases under an exclusive lock (CLI and runs may race)."""
        with open(self.root / ".aliases.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.shared is None:
                yield self.aliases()
                return
            # Across machines no lock is held: the write is conditional on what was read.
            self._read = self.shared.state()
            yield self._read.aliases

    def _record(
        self,
        aliases: dict[str, list[str]],
        action: str,
        alias: str,
        tag: str | None,
        previous: str | None,
        reason: str,
        actor: str | None,
    ) -> AliasChange:
        change = AliasChange(
            datetime.now(UTC).isoformat(), action, alias, tag, previous, reason,
            actor or default_actor(),
        )  # fmt: skip
        if self.shared is not None:
            try:
                self.shared.save(aliases, self._read, asdict(change))
            except AliasConflict as error:
                raise RegistryError(str(error)) from None
            return change
        # The log first: a crash between the two leaves a logged change not yet applied, which
        # re-running repeats, rather than an applied change nobody can explain.
        with open(self._log, "a") as log:
            log.write(json.dumps(asdict(change)) + "\n")
        handle, temp = tempfile.mkstemp(dir=self.root, prefix=".aliases-")
        with os.fdopen(handle, "w") as out:
            json.dump(aliases, out, indent=1)
        os.replace(temp, self._aliases)  # readers (the service) see the old or the new, whole
        return change
