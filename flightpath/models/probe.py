"""Load a model and predict one row in a child process, so that a file which crashes the parser
(LightGBM segfaults or aborts on some broken files) kills the child, never the caller.

    python -m flightpath.models.probe FRAMEWORK DIRECTORY < metadata.json
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from flightpath.models.artifacts import ARTIFACT_FILES, ArtifactError, load_model

PROBE_SECONDS = 120.0  # importing torch and LightGBM on a busy machine takes a few seconds
ROOT = Path(__file__).resolve().parents[2]


def probe(
    directory: Path, framework: str, metadata: dict[str, Any], timeout: float = PROBE_SECONDS
) -> None:
    """Return when the model loads and predicts in a child process; ArtifactError otherwise."""
    name = ARTIFACT_FILES.get(framework, "the model")
    # This checkout's code in the child, whatever an installed copy would give.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flightpath.models.probe", framework, str(directory)],
            input=json.dumps(metadata, default=str), capture_output=True, text=True,
            timeout=timeout, env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"loading {name} did not finish in {timeout:.0f} s") from None
    said = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
    if done.returncode < 0:
        crash = signal.Signals(-done.returncode).name
        raise ArtifactError(f"{name} crashed the process loading it ({crash}): {said}")
    if done.returncode != 0:
        raise ArtifactError(said or f"loading {name} failed (exit status {done.returncode})")


def _main(framework: str, directory: str) -> int:
    try:
        model = load_model(Path(directory), framework, json.load(sys.stdin))
        [probability] = model.predict(np.full((1, len(model.spec.features)), np.nan, np.float32))
        if not 0.0 <= probability <= 1.0 or math.isnan(probability):
            raise ArtifactError(f"it predicts {probability} for a row of missing values")
    except ArtifactError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
