"""The bucket's copy of the model registry, so that every machine sees the same models and aliases.

Each saved version is pushed as one `.bentomodel` archive (`bentoml export`). A registry that
lacks a version imports it from there; the model's checksums are then verified as for any model,
so a damaged object is refused, never served. The alias stacks live in the bucket too, and an
alias change is a conditional PUT (If-Match on the ETag read): two machines promoting at once
cannot overwrite each other. Each change is logged as an object of its own, never rewritten.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import bentoml
from bentoml._internal.models.model import ModelStore

from flightpath.storage import object_storage

ALIASES = "aliases.json"
PROMOTIONS = "promotions"


class UnimportableModel(RuntimeError):
    """The bucket's object for a version is not an archive BentoML can import."""


class AliasConflict(RuntimeError):
    """The aliases changed in the bucket between reading and writing them (another promotion)."""


@dataclass(frozen=True)
class AliasState:
    aliases: dict[str, list[str]]
    etag: str | None  # None: the bucket holds no aliases yet


class SharedModels:
    def __init__(self, url: str) -> None:
        """`url` is `s3://bucket/prefix/models`."""
        self.url = url.rstrip("/")
        self._prefix = self.url.removeprefix("s3://")
        self.fs = object_storage()

    def _key(self, *parts: str) -> str:
        return "/".join((self._prefix, *parts))

    def _archive(self, tag: str) -> str:
        name, version = tag.split(":")
        return self._key(name, f"{version}.bentomodel")

    # --- models ---

    def push(self, store: ModelStore, tag: str) -> None:
        """Upload a saved version (one object: it appears whole or not at all)."""
        with tempfile.TemporaryDirectory() as folder:
            archive = str(Path(folder) / "model.bentomodel")
            bentoml.models.export_model(tag, archive, _model_store=store)
            self.fs.put_file(archive, self._archive(tag))

    def pull(self, store: ModelStore, tag: str) -> bool:
        """Import `tag` into `store` from the bucket; False when the bucket does not have it.

        UnimportableModel for an object that is not an archive; a failed download raises as
        it is (the bucket may be back in a moment: that is no verdict on the model)."""
        if ":" not in tag or tag.endswith(":latest") or not self.fs.exists(self._archive(tag)):
            return False
        with tempfile.TemporaryDirectory() as folder:
            archive = str(Path(folder) / "model.bentomodel")
            self.fs.get_file(self._archive(tag), archive)
            try:
                bentoml.models.import_model(archive, _model_store=store)
            except Exception as error:  # tar, xz, YAML or BentoML's own: all mean "not a model"
                raise UnimportableModel(f"not importable from {self.url}: {error}") from None
        return True

    # --- aliases and their history ---

    def state(self) -> AliasState:
        key = self._key(ALIASES)
        try:
            # The ETag before the content: if they differ, the conditional write fails safe.
            etag = self.fs.info(key)["ETag"]
        except FileNotFoundError:
            return AliasState({}, None)
        return AliasState(json.loads(self.fs.cat_file(key)), etag)

    def save(self, aliases: dict[str, list[str]], read: AliasState, change: dict[str, Any]) -> None:
        """Log `change`, then replace the aliases if nobody changed them since `read`."""
        entry = self._key(PROMOTIONS, f"{change['at']}-{uuid.uuid4().hex[:8]}.json")
        self.fs.pipe_file(entry, json.dumps(change).encode())
        condition: dict[str, Any] = {"IfMatch": read.etag} if read.etag else {"mode": "create"}
        try:
            self.fs.pipe_file(
                self._key(ALIASES), json.dumps(aliases, indent=1).encode(), **condition
            )
        except FileExistsError:  # s3fs's name for 412 Precondition Failed
            self.fs.rm_file(entry)  # the change did not happen: no log of it
            raise AliasConflict(
                f"the aliases in {self.url} changed meanwhile (another promotion): retry"
            ) from None

    def history(self) -> list[dict[str, Any]]:
        """Every logged change, oldest first."""
        try:
            entries = self.fs.ls(self._key(PROMOTIONS), detail=False)
        except FileNotFoundError:
            return []
        changes = [json.loads(self.fs.cat_file(entry)) for entry in entries]
        return sorted(changes, key=lambda change: datetime.fromisoformat(change["at"]))
