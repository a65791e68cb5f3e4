"""FLIGHTPATH_MODEL_THREADS: the threads LightGBM and torch train and score on in a run."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import train_lgbm
from flightpath.models.mlp import MlpConfig, train_mlp
from flightpath.models.threads import THREADS_VARIABLE, model_threads

RNG = np.random.default_rng(5)


def _rows(count: int) -> tuple[np.ndarray, np.ndarray]:
    features = RNG.normal(size=(count, 3)).astype(np.float32)
    return features, (features[:, 0] + RNG.normal(scale=0.5, size=count) > 0).astype(int)


SPEC = FeatureSpec(features=["a", "b", "c"], vocabularies={})


def test_one_thread_unless_the_variable_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert model_threads() == 1
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert model_threads() == 3
    monkeypatch.setenv(THREADS_VARIABLE, "0")
    assert model_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(THREADS_VARIABLE, "two")
    with pytest.raises(RuntimeError, match=THREADS_VARIABLE):
        model_threads()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_both_trainers_use_the_setting_and_train_the_same_lgbm_model(
    threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_VARIABLE, threads)
    train, valid = _rows(3000), _rows(1000)
    model = train_lgbm(SPEC, train, valid, increasing=[])
    assert f"[num_threads: {threads}]" in model.booster.model_to_string()
    before = torch.get_num_threads()
    try:
        train_mlp(SPEC, train, valid, MlpConfig(max_epochs=1), torch.device("cpu"))
        assert torch.get_num_threads() == int(threads)
    finally:
        torch.set_num_threads(before)
    # Threads change the time, not the model: the same trees, the same scores.
    monkeypatch.setenv(THREADS_VARIABLE, "1" if threads == "2" else "2")
    other = train_lgbm(SPEC, train, valid, increasing=[])
    np.testing.assert_array_equal(model.predict(valid[0]), other.predict(valid[0]))
