"""A saved model on disk: each file's SHA-256, checked before a single byte of it is parsed.

The checksums catch a file changed after the save (a bad disk, a partial copy, a hand edit);
each framework's own check (`lgbm.check_model_text`, tensors-only `torch.load`) catches a file
that was already broken when it was saved; `probe.py` loads it where a crash cannot hurt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightpath.models.features import FeatureSpec

if TYPE_CHECKING:
    from flightpath.models.lgbm import LgbmDelayModel
    from flightpath.models.mlp import MlpDelayModel

MANIFEST = "checksums.json"
MODEL_INFO = "model.yaml"  # BentoML's own, written after the files; the store validates it
# The file each framework's model is read from (lgbm.MODEL_FILE, mlp.WEIGHTS_FILE), named here
# so that checking a model imports neither LightGBM nor torch.
ARTIFACT_FILES = {"lightgbm": "model.txt", "torch": "weights.pt"}


class ArtifactError(ValueError):
    """A model's files that must not be loaded; the message names the file and why."""


def record_checksums(directory: Path) -> None:
    """Write the manifest: the SHA-256 of every file the model was saved with."""
    checksums = {
        path.name: _sha256(path.read_bytes())
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name not in (MANIFEST, MODEL_INFO)
    }
    (directory / MANIFEST).write_text(json.dumps(checksums, indent=1) + "\n")


def verified_files(directory: Path) -> dict[str, bytes]:
    """Every recorded file's bytes, once each matches the checksum recorded at save time."""
    try:
        recorded: dict[str, str] = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{MANIFEST} is missing: no checksums were recorded, so its files cannot be "
            "trusted (saved by an older release? retrain it)"
        ) from None
    except ValueError as error:
        raise ArtifactError(f"{MANIFEST} is not readable JSON: {error}") from None
    files = {}
    for name, expected in recorded.items():
        try:
            data = (directory / name).read_bytes()
        except FileNotFoundError:
            raise ArtifactError(f"{name} is missing") from None
        actual = _sha256(data)
        if actual != expected:
            raise ArtifactError(
                f"{name} does not match its checksum ({len(data)} bytes, sha256 {actual[:12]}, "
                f"saved as {expected[:12]}): changed or corrupted since it was saved"
            )
        files[name] = data
    return files


def load_model(
    directory: Path, framework: str, metadata: dict[str, Any]
) -> LgbmDelayModel | MlpDelayModel:
    """Checksums, then the format, then the parse, of the very bytes checked (no pickle)."""
    name = ARTIFACT_FILES.get(framework)
    if name is None:
        raise ArtifactError(f"unknown framework {framework!r}")
    data = verified_files(directory).get(name)
    if data is None:
        raise ArtifactError(f"{name} has no recorded checksum")
    spec = FeatureSpec.from_metadata(metadata)
    try:
        if framework == "lightgbm":
            from flightpath.models.lgbm import LgbmDelayModel

            return LgbmDelayModel.from_text(data, spec)
        from flightpath.models.mlp import MlpDelayModel

        return MlpDelayModel.from_weights(data, spec, metadata)
    except Exception as error:  # any parse error refuses the artifact, with its reason
        raise ArtifactError(f"{name} does not load: {' '.join(str(error).split())}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
