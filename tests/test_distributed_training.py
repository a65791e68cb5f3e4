"""The champion trained data-parallel by lightgbm.dask on a 2-process cluster, on January data."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import dagster as dg
import numpy as np
import psutil
import pytest

from assets.features import feature_store
from assets.models import training
from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import MAX_ROUNDS, train_lgbm
from flightpath.models.lgbm_dask import dask_client, train_lgbm_dask
from flightpath.models.metrics import scores
from flightpath.models.registry import ModelRegistry
from flightpath.models.splits import split_frame, xy
from resources.lake import Lake
from resources.model_registry import bentoml_home
from tests.conftest import JANUARY_DAYS
from tests.model_data import days_between, materialize_registry, resources, write_features

START, TRAIN_END, VALID_END, TEST_END = "2013-01-01", "2013-01-12", "2013-01-15", "2013-01-20"
AUC_TOLERANCE = 0.005
SEEDS = range(1, 11)


class Listeners:
    """Every listening TCP socket of this process and its children, polled while a run lasts."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, str]] = set()  # (pid, local address:port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            me = psutil.Process()
            pids = {me.pid, *(child.pid for child in me.children(recursive=True))}
            listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                fields = line.split()
                self.seen |= {(pid, fields[3]) for pid in pids if f"pid={pid}," in line}

    def __enter__(self) -> Listeners:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def dask_run(
    january_lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dg.ExecuteInProcessResult, Listeners]:
    """training_set and delay_model_lgbm with engine=dask (its own local cluster), one run."""
    home = tmp_path_factory.mktemp("dask")
    lake = Lake(root=str(home / "lake"))
    days = days_between(START, f"2013-01-{JANUARY_DAYS}")
    for table in ("flights", "weather"):
        for day in days:
            lake.write_partition(table, day, january_lake.read_partition(table, day))
    lake.write_table("raw_planes", january_lake.read_table("raw_planes"))
    write_features(lake, days)
    materialize_registry(home)
    window = {"train_start": START, "train_end": TRAIN_END, "valid_end": VALID_END,
              "test_end": TEST_END}  # fmt: skip
    config = {
        "ops": {
            "training_set": {"config": {"start": START, "end": TEST_END}},
            "delay_model_lgbm": {"config": {**window, "engine": "dask"}},
        }
    }
    with Listeners() as listeners:
        result = dg.materialize(
            [feature_store.training_set, training.delay_model_lgbm],
            resources=resources(home), run_config=config,
        )  # fmt: skip
    return home, result, listeners


def _lgbm_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "delay_model_lgbm"
    ]
    materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_dask_training_reaches_the_single_machine_test_auc(
    dask_run: tuple[Path, dg.ExecuteInProcessResult, Listeners],
) -> None:
    """Averaged over seeds: on 10k rows one seed alone moves the test AUC by about 0.01."""
    home, result, _ = dask_run
    assert result.success
    window = training.LgbmTraining(train_start=START, train_end=TRAIN_END, valid_end=VALID_END,
                                   test_end=TEST_END)  # fmt: skip
    parts = split_frame(Lake(root=str(home / "lake")).read_table("training_set"), window.split())
    spec = FeatureSpec.fit(parts["train"])
    train, valid, (matrix, labels) = (xy(spec, parts[p]) for p in ("train", "valid", "test"))
    local = [train_lgbm(spec, train, valid, {"seed": seed, "num_threads": 1}) for seed in SEEDS]
    with dask_client(None) as client:
        spread = [train_lgbm_dask(spec, train, valid, client, {"seed": seed}) for seed in SEEDS]
    local_auc, dask_auc = (
        np.array([scores(labels, model.predict(matrix))["roc_auc"] for model in models])
        for models in (local, spread)
    )
    print(
        f"test ROC-AUC over {len(SEEDS)} seeds, {len(parts['train'])} train rows: single machine "
        f"{local_auc.mean():.4f} ± {local_auc.std():.4f}, lightgbm.dask on 2 workers "
        f"{dask_auc.mean():.4f} ± {dask_auc.std():.4f}; rounds "
        f"{[m.booster.best_iteration for m in local]} vs "
        f"{[m.booster.best_iteration for m in spread]}"
    )
    assert abs(dask_auc.mean() - local_auc.mean()) <= AUC_TOLERANCE
    assert all(0 < model.booster.best_iteration < MAX_ROUNDS for model in spread)  # stopped early
    assert dask_auc.mean() > 0.6  # a model, not a coin


def test_the_registered_model_records_the_engine_and_serves_like_a_local_one(
    dask_run: tuple[Path, dg.ExecuteInProcessResult, Listeners],
) -> None:
    home, result, _ = dask_run
    assert _lgbm_metadata(result)["settings"]["engine"] == "dask"
    registry = ModelRegistry(bentoml_home(home))
    entry = registry.latest("delay_model_lgbm")
    assert entry.info.metadata["engine"] == "dask"
    assert entry.info.metadata["best_iteration"] > 0


def test_the_cluster_listens_on_loopback_except_lightgbms_own_linker(
    dask_run: tuple[Path, dg.ExecuteInProcessResult, Listeners],
) -> None:
    """Dask's scheduler and workers stay on 127.0.0.1; LightGBM 4.7 binds its linker to 0.0.0.0.

    LightGBM's socket_wrapper.hpp hard-codes Bind("0.0.0.0", port): one such socket per worker
    lives while the trees are built. Anything else on a wider address is a leak.
    """
    _, _, listeners = dask_run
    by_pid: dict[int, list[str]] = {}
    for pid, address in listeners.seen:
        by_pid.setdefault(pid, []).append(address)
    workers = {pid: addresses for pid, addresses in by_pid.items() if pid != psutil.Process().pid}
    assert len(workers) == 2  # two worker processes (their nannies live in them too)
    for pid, addresses in by_pid.items():
        wide = [a for a in addresses if not a.startswith("127.0.0.1:")]
        assert len(wide) <= (1 if pid in workers else 0), (pid, addresses)
        assert all(a.startswith(("127.0.0.1:", "0.0.0.0:")) for a in addresses), addresses
    print({pid: sorted(addresses) for pid, addresses in by_pid.items()})
