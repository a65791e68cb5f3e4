"""The champion trained data-parallel by LightGBM's Dask integration: data beyond one machine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask.array as da
import lightgbm as lgb
import numpy as np
from distributed import Client, LocalCluster
from lightgbm.dask import DaskLGBMClassifier

from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import (
    EARLY_STOPPING_ROUNDS,
    INCREASING,
    MAX_ROUNDS,
    LgbmDelayModel,
    training_params,
)

LOOPBACK = "127.0.0.1"
LOCAL_WORKERS = 2
SHUFFLE_SEED = 7


@contextmanager
def dask_client(scheduler: str | None) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, or of a throwaway 2-process cluster on loopback."""
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    # processes=True: one LightGBM network rank per process, as on separate machines.
    with (
        LocalCluster(host=LOOPBACK, n_workers=LOCAL_WORKERS, threads_per_worker=1,
                     processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def _placed(client: Client, chunks: list[np.ndarray], workers: list[str]) -> da.Array:
    """One dask array whose i-th chunk is held by the i-th worker."""
    futures = [
        client.scatter(chunk, workers=[worker], hash=False)
        for chunk, worker in zip(chunks, workers, strict=True)
    ]
    return da.concatenate(
        [
            da.from_delayed(f, shape=c.shape, dtype=c.dtype)
            for f, c in zip(futures, chunks, strict=True)
        ]
    )


def train_lgbm_dask(
    spec: FeatureSpec,
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    client: Client,
    params: dict[str, object] | None = None,
    increasing: Sequence[str] = INCREASING,
) -> LgbmDelayModel:
    """`train_lgbm`'s model, its rows split over the cluster's workers (data-parallel)."""
    # Chunk i is scattered to worker i: left to the scheduler, both chunks can land on one
    # worker, which then trains alone, and eval chunks need not sit next to their train chunk.
    workers = sorted(client.scheduler_info()["workers"])
    # Shuffled rows: each rank bins its share of the features from its own rows only, which
    # must stand for the whole window rather than a few consecutive days of it.
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(train[1]))
    pieces = np.array_split(order, len(workers))
    # Every rank evaluates the whole validation window (lightgbm.dask pairs eval chunk i with
    # train chunk i): all compute the same log loss of the same model and stop at the same
    # round, by the rule single-machine training applies.
    # LightGBM checks the values.
    settings: dict[str, Any] = training_params(spec, params, increasing)
    estimator = DaskLGBMClassifier(client=client, n_estimators=MAX_ROUNDS, **settings)
    estimator.fit(
        _placed(client, [train[0][rows] for rows in pieces], workers),
        _placed(client, [train[1][rows] for rows in pieces], workers),
        eval_X=(_placed(client, [valid[0]] * len(workers), workers),),
        eval_y=(_placed(client, [valid[1]] * len(workers), workers),),
        feature_name=spec.features,
        categorical_feature=spec.categorical,
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )  # fmt: skip
    return LgbmDelayModel(spec, estimator.booster_)
