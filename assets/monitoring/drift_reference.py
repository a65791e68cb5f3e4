"""What a model's drift is measured against: its training rows and its test scores, profiled.

The profile is computed when the model is trained and saved with it (`training_profile`). A
model saved before that has none: its profile is computed once from the reference rows in the
lake and kept there under `drift_profile/<tag>` (`model_profile`).
"""

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from assets.features.flight_features import HISTORY_DAYS as WINDOW_DAYS
from flightpath.feed_calendar import FEED
from flightpath.models.features import CATEGORICAL, FEATURES
from flightpath.models.registry import ModelRegistry
from flightpath.models.splits import Split, local_days, split_frame
from flightpath.monitoring.profile import SCORE, ReferenceProfile, reference_profile
from resources.lake import Lake

WARM_UP_DAYS = WINDOW_DAYS  # flight_features' longest window, and the day it may straddle
MIN_REFERENCE_DAYS = 14
NUMERIC = [name for name in FEATURES if name not in CATEGORICAL]
SAVED = "saved with the model when it was trained"


def reference_window(split: Split) -> tuple[date, date]:
    """The champion's training days, less the feed's warm-up when enough days remain.

    In the feed's first month the 7- and 30-day windows are still filling up, so counts and
    rates there look like no later week (PSI above 1 against any of them): a reference that
    includes them would flag drift forever.
    """
    first, last = split.windows()["train"]
    settled = FEED.first_day + timedelta(days=WARM_UP_DAYS)
    if (last - settled).days + 1 >= MIN_REFERENCE_DAYS:
        first = max(first, settled)
    return first, last


def training_profile(
    train: pd.DataFrame, split: Split, test_scores: np.ndarray
) -> ReferenceProfile:
    """The profile of the reference window's rows of `train` and of the test window's scores."""
    first, last = reference_window(split)
    days = local_days(train)
    rows = train[(days >= first) & (days <= last)]
    with duckdb.connect() as connection:
        connection.register("reference_rows", rows)
        connection.register("reference_scores", pd.DataFrame({SCORE: test_scores}))
        features = reference_profile(connection, "reference_rows", NUMERIC, CATEGORICAL)
        return features | reference_profile(connection, "reference_scores", [SCORE], [])


def model_profile(lake: Lake, registry: ModelRegistry, tag: str) -> tuple[ReferenceProfile, str]:
    """The model's profile, and where it came from: saved with it, or computed from the lake's
    reference rows for a model saved before profiles (once; kept in the lake)."""
    saved = registry.drift_profile(tag)
    if saved is not None and saved.covers([*NUMERIC, *CATEGORICAL, SCORE]):
        return saved, SAVED
    table = f"drift_profile/{tag.replace(':', '-')}"
    how = (
        "computed from the reference rows in the lake (the model was saved without a profile); "
        f"kept in the lake as {table}"
    )
    if lake.table_path(table).exists():
        return ReferenceProfile.from_frame(lake.read_table(table)), how
    split = Split.from_metadata(registry.metadata(tag)["split"])
    test = split_frame(lake.read_table("training_set"), split)["test"]
    model = registry.load(tag)
    scores = model.predict(model.spec.matrix(test))
    with lake.connect() as connection:
        connection.register("reference_scores", pd.DataFrame({SCORE: scores}))
        profile = reference_profile(
            connection, reference_rows(lake, reference_window(split)), NUMERIC, CATEGORICAL
        ) | reference_profile(connection, "reference_scores", [SCORE], [])
    lake.write_table(table, profile.to_frame())
    return profile, how


def reference_rows(lake: Lake, window: tuple[date, date]) -> str:
    """The reference's rows, as a DuckDB table expression over the training set."""
    first, last = window
    return (
        f"(SELECT * FROM read_parquet('{lake.table_path('training_set')}') WHERE "
        f"(sched_dep_utc AT TIME ZONE '{FEED.timezone}')::DATE "
        f"BETWEEN DATE '{first}' AND DATE '{last}')"
    )
