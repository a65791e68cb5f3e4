"""A real `bentoml serve` of the service over a data home, for the HTTP tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import pandas as pd

from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import train_lgbm
from flightpath.models.mlp import MlpConfig, train_mlp
from flightpath.models.registry import CHALLENGER, ModelRegistry
from flightpath.models.splits import local_days, xy
from resources.lake import Lake
from resources.model_registry import bentoml_home

ROOT = Path(__file__).resolve().parent.parent
API_KEY, BURST_KEY = "test-key", "burst-key"


def register_models(home: Path, seed: int = 7) -> tuple[str, str]:
    """A LightGBM and an MLP trained on the home's training set; returns their tags."""
    frame = Lake(root=str(home / "lake")).read_table("training_set")
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


def promote(home: Path, champion: str, challenger: str | None = None) -> None:
    registry = ModelRegistry(bentoml_home(home))
    registry.promote(champion, "test")
    if challenger:
        registry.promote(challenger, "test", CHALLENGER)


def flights_of(home: Path, day: date, count: int) -> list[dict]:
    """Real scheduled flights of a day as request bodies."""
    flights = Lake(root=str(home / "lake")).read_partition("flights", day)
    flights = flights.dropna(subset=["tailnum"]).head(count)
    return [
        {"carrier": r.carrier, "flight": int(r.flight), "tailnum": r.tailnum, "origin": r.origin,
         "dest": r.dest, "sched_dep": pd.Timestamp(r.sched_dep_utc).isoformat()}
        for r in flights.itertuples()
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(home: Path, ready: str = "/readyz", **env: str) -> Iterator[httpx.Client]:
    """`bentoml serve bentos.service:DelayService` on a free port until the block ends."""
    port = _free_port()
    variables = {**os.environ, "FLIGHTPATH_HOME": str(home),
                 "BENTOML_HOME": str(bentoml_home(home)),
                 "FLIGHTPATH_API_KEYS": f"{API_KEY},{BURST_KEY}", **env}  # fmt: skip
    bentoml = Path(sys.executable).parent / "bentoml"
    log = open(home / f"serve-{port}.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(bentoml), "serve", "bentos.service:DelayService", "--port", str(port),
         "--host", "127.0.0.1"],
        cwd=ROOT, env=variables, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": API_KEY},
                          timeout=30)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"bentoml serve exited: {(home / f'serve-{port}.log').read_text()}"
                )
            try:
                if client.get(ready).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("bentoml serve did not become ready in 90 s")
            time.sleep(0.5)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
