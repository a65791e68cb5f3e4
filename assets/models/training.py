"""The two delay models, trained on the same time split of the point-in-time training set."""

from dataclasses import replace
from datetime import date
from typing import Literal

import dagster as dg
import pandas as pd

from assets import groups
from assets.kit.lineage import ROOT, code_version, training_set_lineage
from assets.kit.registration import Candidate, register
from assets.kit.training import Recipe, train_candidate
from assets.monitoring.drift_reference import training_profile
from flightpath.entity_views import TRAINING_SERVICE
from flightpath.feed_calendar import FEED
from flightpath.models.features import CATEGORICAL, FEATURES, LABEL
from flightpath.models.lgbm import INCREASING
from flightpath.models.splits import Split, split_frame
from flightpath.training_partitions import Partitions
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

GROUP = groups.MODELS
TRAINING_SET = dg.AssetKey("training_set")
# The code a delay model is made by (its version is recorded with the model): the kit trains,
# registers and judges it.
MODEL_CODE = [ROOT / "flightpath" / "models", ROOT / "assets" / "models", ROOT / "assets" / "kit",
              ROOT / "feature_repo"]  # fmt: skip
DEFAULT_WINDOWS = FEED.training_windows()
# The kit's way to train, on the flights' columns; LightGBM's and the MLP's defaults are theirs.
RECIPE = Recipe(LABEL, FEATURES, CATEGORICAL, increasing=INCREASING)


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
        "feature_service": TRAINING_SERVICE,
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
        "feature_service": TRAINING_SERVICE,
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
    if config.engine == "dask":
        # Dask is imported only when asked for: it adds ~0.3 s to every load of the code location.
        from flightpath.models.lgbm_dask import dask_client, train_lgbm_dask

        with dask_client(config.dask_scheduler) as client:
            trained = train_candidate(
                "delay_model_lgbm", "lgbm", RECIPE, parts,
                lambda spec, train, valid, params, increasing: train_lgbm_dask(
                    spec, train, valid, client, params, increasing),
            )  # fmt: skip
    else:
        trained = train_candidate("delay_model_lgbm", "lgbm", RECIPE, parts)
    settings = {**trained.settings, "engine": config.engine}
    return _register(context, model_registry, replace(trained, settings=settings), config, parts)


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
    trained = train_candidate("delay_model_torch", "torch", RECIPE, parts)
    return _register(context, model_registry, trained, config, parts)
