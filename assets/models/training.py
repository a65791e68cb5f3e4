"""The two delay models, trained on the same time split of the point-in-time training set."""

from datetime import date
from typing import Literal

import dagster as dg
import pandas as pd

from assets import groups
from assets.kit.lineage import ROOT, code_version, training_set_lineage
from assets.kit.registration import Candidate, register
from assets.monitoring.drift_reference import training_profile
from flightpath.feed_calendar import FEED
from flightpath.models.features import LABEL, FeatureSpec
from flightpath.models.lgbm import PARAMS, train_lgbm
from flightpath.models.splits import Split, split_frame, xy
from flightpath.training_partitions import Partitions
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

GROUP = groups.MODELS
FEATURE_SERVICE = "delay_model_training"
TRAINING_SET = dg.AssetKey("training_set")
# The code a delay model is made by (its version is recorded with the model).
MODEL_CODE = [ROOT / "flightpath" / "models", ROOT / "assets" / "models", ROOT / "feature_repo"]
DEFAULT_WINDOWS = FEED.training_windows()


class ModelWindow(dg.Config):
    """Local days, inclusive: train, validate (early stopping) up to `valid_end`, then test."""

    train_start: str = DEFAULT_WINDOWS["train_start"].isoformat()
    train_end: str = DEFAULT_WINDOWS["train_end"].isoformat()
    valid_end: str = DEFAULT_WINDOWS["valid_end"].isoformat()
    test_end: str = DEFAULT_WINDOWS["test_end"].isoformat()

    def split(self) -> Split:
        return Split(
            *(date.fromisoformat(d) for d in (self.train_start, self.train_end, self.valid_end,
                                              self.test_end))
        )  # fmt: skip


class LgbmTraining(ModelWindow):
    """The window, and where LightGBM trains: in this process, or data-parallel on Dask."""

    engine: Literal["local", "dask"] = "local"
    dask_scheduler: str | None = None  # e.g. tcp://10.0.0.5:8786; None: a local 2-process cluster


def _parts(lake: Lake, window: ModelWindow) -> dict[str, pd.DataFrame]:
    return split_frame(lake.read_table("training_set"), window.split())


def _register(
    context: dg.AssetExecutionContext,
    registry: ModelRegistryResource,
    candidate: Candidate,
    window: ModelWindow,
    parts: dict[str, pd.DataFrame],
) -> dg.MaterializeResult:
    """The kit's registration, with the flights' lineage: the split's days, the training set's
    run, window and feature partitions; the drift reference is the split's reference window."""
    lineage = training_set_lineage(context.instance, TRAINING_SET)
    partitions = Partitions(dict(lineage["feature_partitions"]))
    code = code_version(MODEL_CODE)
    recorded = {
        "feature_service": FEATURE_SERVICE,
        "split": window.split().to_metadata(),
        "training_set": lineage,
        "code_version": code,
    }
    reported = {
        "split": dg.MetadataValue.json(window.split().describe()),
        "training_set_run": dg.MetadataValue.dagster_run(lineage["run_id"]),
        "training_set_version": str(lineage["data_version"]),
        "training_set_window": str(lineage["window"]),
        "feature_partitions": dg.MetadataValue.json(
            {"range": partitions.summary(), **partitions.as_dict()}
        ),
        "feature_service": FEATURE_SERVICE,
        "code_version": dg.MetadataValue.json(code),
    }
    return register(
        context,
        registry,
        candidate,
        parts,
        LABEL,
        lambda test_scores: training_profile(parts["train"], window.split(), test_scores),
        recorded,
        reported,
    )


@dg.asset(
    group_name=GROUP,
    deps=["training_set"],
    description="LightGBM champion candidate: native categoricals, monotone in recent delays, "
    "early stopping on the validation window. Saved as LightGBM text in the model store.",
    kinds={"lightgbm", "bentoml"},
)
def delay_model_lgbm(
    context: dg.AssetExecutionContext,
    config: LgbmTraining,
    lake: Lake,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    parts = _parts(lake, config)
    spec = FeatureSpec.fit(parts["train"])
    train, valid = xy(spec, parts["train"]), xy(spec, parts["valid"])
    if config.engine == "dask":
        # Dask is imported only when asked for: it adds ~0.3 s to every load of the code location.
        from flightpath.models.lgbm_dask import dask_client, train_lgbm_dask

        with dask_client(config.dask_scheduler) as client:
            model = train_lgbm_dask(spec, train, valid, client)
    else:
        model = train_lgbm(spec, train, valid)
    settings = {
        "params": PARAMS,
        "best_iteration": model.booster.best_iteration,
        "engine": config.engine,
    }
    trained = Candidate("delay_model_lgbm", "lightgbm", model, settings)
    return _register(context, model_registry, trained, config, parts)


@dg.asset(
    group_name=GROUP,
    deps=["training_set"],
    description="PyTorch challenger: an MLP over categorical embeddings, on CUDA when there is "
    "one. Saved as a state_dict (loaded with weights_only=True) in the model store.",
    kinds={"pytorch", "bentoml"},
)
def delay_model_torch(
    context: dg.AssetExecutionContext,
    config: ModelWindow,
    lake: Lake,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    parts = _parts(lake, config)
    spec = FeatureSpec.fit(parts["train"])
    # torch is imported only to train: it adds ~2.3 s to every load of the code location.
    from flightpath.models.mlp import MlpConfig, train_mlp, training_device

    device = training_device()
    model = train_mlp(spec, xy(spec, parts["train"]), xy(spec, parts["valid"]), MlpConfig(), device)
    model.network.cpu()  # saved and scored on the CPU: the service has no GPU
    settings = {
        **model.metadata(),
        "device": device.type,
        "epochs": len(model.epoch_seconds),
        "seconds_per_epoch": sum(model.epoch_seconds) / len(model.epoch_seconds),
    }
    trained = Candidate("delay_model_torch", "torch", model, settings)
    return _register(context, model_registry, trained, config, parts)
