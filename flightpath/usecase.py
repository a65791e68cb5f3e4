"""A use case: everything the lifecycle kit needs to know about one prediction problem.

The kit (`assets/kit/`) builds every stage from this one definition; the names it derives here
(asset keys, lake tables, model names, the champion alias, the Feast project) are the only
place each is spelt, so the service, the CLI and the monitoring agree with the assets.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flightpath.quality.contracts import Contract, Kind

if TYPE_CHECKING:  # the service reads a definition without the flights model's modules
    from flightpath.models.splits import Split

USECASE_VARIABLE = "FLIGHTPATH_USECASE"  # the service's use case, as `module:attribute`
TRAINING_TIME = "event_timestamp"  # the instant each training-set row is joined at (Feast's)
MODEL_KINDS = ("lgbm", "torch")  # the champion candidate (LightGBM) and its challenger (PyTorch)


@dataclass(frozen=True)
class Holdout:
    """Shares of the rows kept for validation and test; the rest trains.

    With event times the split follows time: the latest `test` share tests and the `valid`
    share before it validates, so no model learns from the period it is judged on. A snapshot
    has no time to split on, so an entity's window comes from a hash of its key: stable across
    runs and subsets.
    """

    valid: float = 0.2
    test: float = 0.2

    def window_of(self, key: object) -> str:
        position = int(hashlib.sha256(str(key).encode()).hexdigest()[:8], 16) / 0x1_0000_0000
        if position < self.test:
            return "test"
        return "valid" if position < self.test + self.valid else "train"

    def windows(self, keys: pd.Series, times: pd.Series | None) -> pd.Series:
        """Each row's window; `times` None for a snapshot. The time cuts are quantiles of
        `times`: pass the whole training set, not a subset of it."""
        if times is None:
            return keys.map(self.window_of)
        test_from = times.quantile(1 - self.test)
        valid_from = times.quantile(1 - self.test - self.valid)
        window = np.where(
            times >= test_from, "test", np.where(times >= valid_from, "valid", "train")
        )
        return pd.Series(window, index=keys.index)


@dataclass(frozen=True)
class Daily:
    """A feed that delivers a day at a time: each day lands, is judged and is kept alone (a
    daily partition, with its own checks), and every stage after validation reads every day."""

    first_day: date
    # The day's rows as they arrive, untyped; None when the use case lands its days itself
    # (flights: two tables a day through the landing zone), and the kit builds no data stage.
    load_day: Callable[[date], pd.DataFrame] | None
    zone: str = "UTC"  # the time zone whose calendar days the partitions are
    # Dated training windows (`Split`, local days) the candidates train on unless a run's
    # config names others; None: the holdout's shares of the training set.
    windows: Callable[[], Split] | None = None
    # The feed's first days, while the features' windows fill: left out of the drift reference.
    warm_up_days: int = 0


@dataclass(frozen=True)
class Published:
    """Names a use case had before the kit built it, kept so that its asset history, lake
    tables, registry models and aliases carry on; a name not given here is derived."""

    assets: Mapping[str, str] = field(default_factory=dict)  # stage -> asset key
    tables: Mapping[str, str] = field(default_factory=dict)  # stage -> lake table
    models: Mapping[str, str] = field(default_factory=dict)  # kind -> registry name
    aliases: tuple[str, str] | None = None  # champion, challenger
    feature_service: str | None = None
    rollback: str | None = None  # the command that moves the champion back


@dataclass(frozen=True, kw_only=True)
class UseCase:
    """One prediction problem: its source, its contract and rules, its label, its features."""

    name: str  # lower_snake: prefixes assets, lake tables, models, the alias, the Feast project
    title: str  # what is predicted, in words
    source: str  # where the data comes from, named in lineage and in a blocked file's error
    # Where the rows come from: a snapshot's whole table, or a daily feed's days (one of the two).
    load: Callable[[], pd.DataFrame] | None = None
    daily: Daily | None = None
    columns: dict[str, Kind]  # the landed contract, column by column
    entity: str  # the key a prediction is for (a Feast entity)
    label: str  # the target's column in the training set
    label_rule: str  # DuckDB SQL over the validated columns: 1, 0, or NULL when unknown
    label_source: tuple[str, ...]  # the columns the label rule reads: never features
    # Columns the use case's own feature stage computes from the landed ones (entity keys,
    # windows); the kit's feature stage builds features only from landed columns.
    derived: tuple[str, ...] = ()
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]  # numeric bounds; a row outside is quarantined
    allowed: dict[str, tuple[str, ...]]  # categorical values; a row outside is quarantined
    slices: tuple[str, ...]  # columns the gate and monitoring judge per value
    baseline_by: tuple[str, ...]  # the naive baseline: the training rate per group of these
    # None: a snapshot, every row as of `snapshot_time`; else the column of each row's instant.
    event_time: str | None = None
    snapshot_time: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    holdout: Holdout = field(default_factory=Holdout)
    increasing: tuple[str, ...] = ()  # features the risk may only rise with (monotone)
    # Overrides of the models' defaults that the data's size calls for.
    lgbm_params: dict[str, object] = field(default_factory=dict)
    mlp_settings: dict[str, object] = field(default_factory=dict)
    slice_min_rows: int = 50  # a slice smaller than this is too noisy to block a promotion
    shown_min_rows: int | None = None  # the evaluation's slices table; None: slice_min_rows
    unit: str = "rows"  # what a row is, in words ("flights")
    published: Published = field(default_factory=Published)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"a use case's name is lower_snake_case: {self.name!r}")
        if (self.load is None) == (self.daily is None):
            raise ValueError(f"{self.name}: either a snapshot's `load` or a `daily` feed")
        if self.daily is not None and self.event_time is None:
            raise ValueError(f"{self.name}: a daily feed needs the rows' `event_time`")
        if self.daily is not None and "date" in self.columns:
            raise ValueError(f"{self.name}: `date` names the lake's day partitions: rename it")
        named = {self.entity, *self.features, *self.label_source, *self.slices, *self.baseline_by}
        unknown = named - set(self.columns) - set(self.derived)
        if unknown:
            raise ValueError(f"{self.name}: columns not in the contract: {sorted(unknown)}")
        leaking = set(self.label_source) & set(self.features)
        if leaking:
            raise ValueError(f"{self.name}: the label's inputs cannot be features: {leaking}")

    @property
    def features(self) -> list[str]:
        return [*self.categorical, *self.numeric]

    @property
    def contract(self) -> Contract:
        return Contract(table=self.name, columns=self.columns, key=(self.entity,))

    # --- names derived from the use case, spelt only here ---

    @property
    def group(self) -> str:
        return self.name

    def key(self, stage: str) -> list[str]:
        """A stage's asset key: `mortgage/evaluation`, or the published one."""
        published = self.published.assets.get(stage)
        return [published] if published else [self.name, stage]

    def table(self, stage: str) -> str:
        """The lake table of a stage: `mortgage_features`, `mortgage_training_set`, ..."""
        return self.published.tables.get(stage) or f"{self.name}_{stage}"

    def model_name(self, kind: str) -> str:
        return self.published.models.get(kind) or f"{self.name}_{kind}"

    @property
    def model_prefix(self) -> str:
        """What the candidates' registry names share; the rest names a candidate's kind."""
        names = [self.model_name(kind) for kind in MODEL_KINDS]
        return os.path.commonprefix(names)  # noqa: RUF071 - names, character by character

    @property
    def champion_alias(self) -> str:
        """The use case's own alias namespace in the shared registry."""
        aliases = self.published.aliases
        return aliases[0] if aliases else f"{self.name}/champion"

    @property
    def challenger_alias(self) -> str:
        """The best other candidate of the last promotion: the service shadows it."""
        aliases = self.published.aliases
        return aliases[1] if aliases else f"{self.name}/challenger"

    @property
    def rollback(self) -> str:
        return self.published.rollback or f"flightpath usecase {self.name} rollback"

    @property
    def feast_project(self) -> str:
        return f"flightpath_{self.name}"

    @property
    def feature_view(self) -> str:
        return f"{self.name}_features"

    @property
    def feature_service(self) -> str:
        return self.published.feature_service or f"{self.name}_model"

    @property
    def zone(self) -> str:
        """The time zone whose calendar days a feed's are (its partitions, dated windows)."""
        return self.daily.zone if self.daily else "UTC"

    @property
    def event_column(self) -> str:
        """The feature rows' timestamp in the lake and in Feast."""
        return self.event_time or "as_of"

    def windows(self, rows: pd.DataFrame) -> pd.Series:
        """The train / valid / test window of each training-set row (`Holdout`)."""
        times = rows[TRAINING_TIME] if self.event_time else None
        return self.holdout.windows(rows[self.entity], times)
