"""A real `bentoml serve` of the service over a data home, for the HTTP tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx

from apps.loop import request_bodies
from apps.service_process import running_service
from flightpath.home import bentoml_home
from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import train_lgbm
from flightpath.models.mlp import MlpConfig, train_mlp
from flightpath.models.registry import CHALLENGER, ModelRegistry
from flightpath.models.splits import local_days, xy
from resources.lake import Lake

ROOT = Path(__file__).resolve().parent.parent
API_KEY, BURST_KEY = "test-key", "burst-key"


def register_models(home: Path, seed: int = 7, source: Path | None = None) -> tuple[str, str]:
    """A LightGBM and an MLP trained on the training set of `source` (by default the home's),
    registered in the home; returns their tags."""
    frame = Lake(root=str((source or home) / "lake")).read_table("training_set")
    days = local_days(frame)
    train, valid = frame[days < days.max()], frame[days == days.max()]
    spec = FeatureSpec.fit(train)
    registry = ModelRegistry(bentoml_home(home))
    lgbm = train_lgbm(spec, xy(spec, train), xy(spec, valid), {"seed": seed})
    mlp = train_mlp(spec, xy(spec, train), xy(spec, valid), MlpConfig(max_epochs=2, seed=seed))
    tags = []
    for name, framework, model, extra in (
        ("delay_model_lgbm", "lightgbm", lgbm, {}),
        ("delay_model_torch", "torch", mlp, mlp.metadata()),
    ):
        with registry.create(name, framework, {**spec.to_metadata(), **extra}) as entry:
            model.save(Path(entry.path))
        tags.append(str(entry.tag))
    return tags[0], tags[1]


def clone_model(
    registry: ModelRegistry, tag: str, edit: Callable[[Path], None] | None = None
) -> str:
    """A new version of `tag`'s model saved through the registry; `edit` changes its files
    before the save ends, as a full disk or a bad writer would (its checksums then match)."""
    source = registry.get(tag)
    framework = source.info.labels["framework"]
    with registry.create(source.tag.name, framework, dict(source.info.metadata)) as entry:
        for name in ("model.txt", "weights.pt"):
            if (Path(source.path) / name).exists():
                shutil.copy(Path(source.path) / name, Path(entry.path) / name)
        if edit is not None:
            edit(Path(entry.path))
    return str(entry.tag)


def promote(home: Path, champion: str, challenger: str | None = None) -> None:
    registry = ModelRegistry(bentoml_home(home))
    registry.promote(champion, "test")
    if challenger:
        registry.promote(challenger, "test", CHALLENGER)


def flights_of(home: Path, day: date, count: int) -> list[dict]:
    """Real scheduled flights of a day as request bodies."""
    flights = Lake(root=str(home / "lake")).read_partition("flights", day)
    return request_bodies(flights.dropna(subset=["tailnum"]).head(count))


@contextmanager
def serving(home: Path, ready: str = "/readyz", **env: str) -> Iterator[httpx.Client]:
    """`bentoml serve bentos.service:DelayService` on a free port until the block ends."""
    # Two API workers whatever the machine: what the tests check holds across workers.
    keys = {"FLIGHTPATH_API_KEYS": f"{API_KEY},{BURST_KEY}", "FLIGHTPATH_WORKERS": "2", **env}
    with running_service(home, keys, headers={"X-API-Key": API_KEY}, ready=ready) as client:
        yield client


def home_with_models(feature_home: Path, copy: Path) -> Path:
    """A copy of the feature home with a LightGBM champion and an MLP challenger."""
    shutil.copytree(feature_home, copy)
    champion, challenger = register_models(copy)
    promote(copy, champion, challenger)
    return copy


def run_briefly(command: list[str], env: dict[str, str], seconds: float) -> tuple[int, str]:
    """Runs `command` to its end; past `seconds` it and its children are killed (no orphans)."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, out


def wait_for(condition: Callable[[], object], seconds: float) -> None:
    """Poll until `condition()` holds: the service swaps models on its own clock."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the service did not change in time"
        time.sleep(0.3)


def refused_models(client: httpx.Client) -> dict[tuple[str, str], float]:
    """`flightpath_model_refused` from /metrics: (alias, tag) -> 1 while refused, else 0."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.labels["alias"], sample.labels["tag"]): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        if family.name == "flightpath_model_refused"
        for sample in family.samples
    }
