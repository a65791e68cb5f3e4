"""A use case's candidates: trained on the training set's holdout or on dated windows a run
names, LightGBM in process or on Dask, registered with their drift profile and lineage."""

from dataclasses import replace
from datetime import date
from typing import Any, Literal

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from assets.kit.lineage import ROOT, code_version, training_set_lineage
from assets.kit.registration import Candidate, register
from assets.kit.training import Recipe, train_candidate
from flightpath.models.splits import Split, local_days, settled_window, split_frame
from flightpath.monitoring.profile import SCORE, ReferenceProfile, reference_profile
from flightpath.training_partitions import Partitions
from flightpath.usecase import TRAINING_TIME, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

# The code a use case's model is made by (its definition is in the git commit code_version adds).
KIT_CODE = [ROOT / "flightpath" / "models", ROOT / "assets" / "kit", ROOT / "feature_repo"]
# A time-split model's last training instant, and its training set's last instant (metadata).
TRAINED_THROUGH, DATA_THROUGH = "trained_through", "data_through"


def holdout_parts(usecase: UseCase, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The training set's rows by window (train, valid, test), as the use case's holdout says."""
    window = usecase.windows(frame)
    return {
        name: frame[window == name].reset_index(drop=True) for name in ("train", "valid", "test")
    }


def time_split_bounds(usecase: UseCase, parts: dict[str, pd.DataFrame]) -> dict[str, str]:
    """A time split's last training instant and its data's last instant, as the registry's
    metadata keeps them; nothing for a snapshot (its held-out rows are known by key)."""
    if usecase.event_time is None or parts["train"].empty:
        return {}
    last = max(part[TRAINING_TIME].max() for part in parts.values() if len(part))
    return {
        TRAINED_THROUGH: pd.Timestamp(parts["train"][TRAINING_TIME].max()).isoformat(),
        DATA_THROUGH: pd.Timestamp(last).isoformat(),
    }


def recipe(usecase: UseCase) -> Recipe:
    return Recipe(usecase.label, usecase.features, usecase.categorical, usecase.lgbm_params,
                  usecase.increasing, usecase.mlp_settings)  # fmt: skip


class CandidateWindow(dg.Config):
    """Local days (the feed's zone), inclusive: train, validate (early stopping) up to
    `valid_end`, then test. Unset: the use case's default windows, else its holdout's shares."""

    train_start: str | None = None
    train_end: str | None = None
    valid_end: str | None = None
    test_end: str | None = None

    def split(self) -> Split | None:
        dates = [self.train_start, self.train_end, self.valid_end, self.test_end]
        if not any(dates):
            return None
        if not all(dates):
            raise ValueError(f"name all four days of the windows or none: {self.model_dump()}")
        return Split(*(date.fromisoformat(str(day)) for day in dates))


class LgbmEngine(dg.Config):
    """Where LightGBM trains: in this process, or data-parallel on Dask."""

    engine: Literal["local", "dask"] = "local"
    dask_scheduler: str | None = None  # e.g. tcp://10.0.0.5:8786; None: a local 2-process cluster


def window_config(usecase: UseCase, kind: str) -> type[CandidateWindow]:
    """The candidate's run config: its windows, defaulting to the feed's dated ones (shown in
    the launchpad), and for LightGBM its engine."""
    bases: tuple[type, ...] = (
        (CandidateWindow, LgbmEngine) if kind == "lgbm" else (CandidateWindow,)
    )
    windows = usecase.daily.windows if usecase.daily else None
    defaults = windows().to_metadata() if windows else {}
    name = f"{usecase.name.title().replace('_', '')}{kind.title()}Training"
    namespace = {"__annotations__": dict.fromkeys(defaults, str), "__module__": __name__}
    return type(name, bases, {**namespace, **defaults})


def candidate_parts(
    usecase: UseCase, frame: pd.DataFrame, split: Split | None
) -> dict[str, pd.DataFrame]:
    """The training set's rows by window: the dated `split`'s local days, or the holdout's."""
    if split is None:
        return holdout_parts(usecase, frame)
    if usecase.event_time is None:
        raise ValueError(f"{usecase.name} is a snapshot: it has no days to split on; unset them")
    return split_frame(frame, split, usecase.label, TRAINING_TIME, usecase.zone)


def _split_metadata(usecase: UseCase, split: Split | None, shown: bool = False) -> dict[str, str]:
    """The split as the registry records it (dated days, or the holdout's shares); `shown`: as
    the asset shows it, each window's days."""
    if split is not None:
        return split.describe() if shown else split.to_metadata()
    how = "by time" if usecase.event_time else "by key"
    return {"holdout": f"valid {usecase.holdout.valid}, test {usecase.holdout.test}, {how}"}


def _reference_rows(usecase: UseCase, train: pd.DataFrame, split: Split | None) -> pd.DataFrame:
    """The training rows a drift reference profiles: a feed's, less its warm-up days."""
    if split is None or usecase.daily is None:
        return train
    first, last = settled_window(split, usecase.daily.first_day, usecase.daily.warm_up_days)
    days = local_days(train, TRAINING_TIME, usecase.zone)
    return train[(days >= first) & (days <= last)]


def _lineage_metadata(
    usecase: UseCase, split: Split | None, lineage: dict[str, Any], code: dict[str, str]
) -> dict[str, Any]:
    """What the model was made from, as the asset shows it."""
    shown: dict[str, Any] = {
        "split": dg.MetadataValue.json(_split_metadata(usecase, split, shown=True)),
        "training_set_run": dg.MetadataValue.dagster_run(lineage["run_id"]),
        "training_set_version": str(lineage["data_version"]),
    }
    if "window" in lineage:
        shown["training_set_window"] = str(lineage["window"])
    if lineage.get("feature_partitions"):
        partitions = Partitions(dict(lineage["feature_partitions"]))
        shown["feature_partitions"] = dg.MetadataValue.json(
            {"range": partitions.summary(), **partitions.as_dict()}
        )
    return {**shown, "feature_service": usecase.feature_service,
            "code_version": dg.MetadataValue.json(code)}  # fmt: skip


CANDIDATE_NOTES = {
    "lgbm": "LightGBM: native categoricals, monotone where the use case says; in this process "
    "or data-parallel on Dask (config `engine`).",
    "torch": "PyTorch: an MLP over categorical embeddings, on CUDA when there is one; saved as "
    "a state_dict (loaded with weights_only=True).",
}


def candidate_asset(usecase: UseCase, kind: str, group: str | None = None) -> dg.AssetsDefinition:
    framework = {"lgbm": "lightgbm", "torch": "torch"}[kind]
    training_set = dg.AssetKey(usecase.key("training_set"))
    name = usecase.model_name(kind)
    Config = window_config(usecase, kind)

    @dg.asset(
        key=usecase.key(f"model_{kind}"),
        deps=[training_set],
        group_name=group or usecase.group,
        description=f"A {framework} candidate for {usecase.title}, stopped early on the "
        "validation rows, saved with its drift profile. " + CANDIDATE_NOTES[kind],
        kinds={framework, "bentoml"},
    )
    def candidate(
        context: dg.AssetExecutionContext,
        config: Config,  # type: ignore[valid-type]  # a class made for the use case
        lake: Lake,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        split = config.split()  # type: ignore[attr-defined]
        parts = candidate_parts(usecase, lake.read_table(usecase.table("training_set")), split)
        trained = _train(name, kind, usecase, parts, config)
        reference = _reference_rows(usecase, parts["train"], split)

        def profile_of(test_scores: np.ndarray) -> ReferenceProfile:
            with duckdb.connect() as connection:
                connection.register("reference_rows", reference)
                connection.register("test_scores", pd.DataFrame({SCORE: test_scores}))
                return reference_profile(
                    connection, "reference_rows", list(usecase.numeric), list(usecase.categorical)
                ) | reference_profile(connection, "test_scores", [SCORE], [])

        lineage = training_set_lineage(context.instance, training_set)
        code = code_version(KIT_CODE)
        recorded = {
            "use_case": usecase.name,
            "split": _split_metadata(usecase, split),
            # What a feed's live performance leaves out, and what its weekly retraining waits past.
            **time_split_bounds(usecase, parts),
            "training_set": lineage,
            "feature_service": usecase.feature_service,
            "code_version": code,
        }
        return register(
            context, model_registry, trained, parts, usecase.label, profile_of, recorded,
            _lineage_metadata(usecase, split, lineage, code),
        )  # fmt: skip

    return candidate


def _train(
    name: str, kind: str, usecase: UseCase, parts: dict[str, pd.DataFrame], config: dg.Config
) -> Candidate:
    """The candidate; LightGBM in this process or on Dask, as its config says."""
    engine = config.engine if isinstance(config, LgbmEngine) else None
    if engine != "dask":
        trained = train_candidate(name, kind, recipe(usecase), parts)
    else:
        assert isinstance(config, LgbmEngine)
        # Dask is imported only when asked for: it adds ~0.3 s to every load of the code location.
        from flightpath.models.lgbm_dask import dask_client, train_lgbm_dask

        with dask_client(config.dask_scheduler) as client:
            trained = train_candidate(
                name, kind, recipe(usecase), parts,
                lambda spec, train, valid, params, increasing: train_lgbm_dask(
                    spec, train, valid, client, params, increasing),
            )  # fmt: skip
    return replace(trained, settings={**trained.settings, "engine": engine}) if engine else trained
