"""What a model's drift is measured against: its training rows and its test scores, profiled.

The profile is computed when the model is trained and saved with it (the kit's candidates). A
model saved before that has none: its profile is computed once from the reference rows in the
lake and kept there under `drift_profile/<tag>` (`model_profile`).
"""

from datetime import date

import pandas as pd

from flightpath.models.registry import ModelRegistry
from flightpath.models.splits import Split, settled_window, split_frame
from flightpath.monitoring.profile import SCORE, ReferenceProfile, reference_profile
from resources.lake import Lake
from usecases.flights.definition import DAYS, FLIGHTS

NUMERIC, CATEGORICAL = list(FLIGHTS.numeric), list(FLIGHTS.categorical)
SAVED = "saved with the model when it was trained"


def reference_window(split: Split) -> tuple[date, date]:
    """The champion's training days, less the feed's warm-up when enough days remain: in the
    feed's first month the 7- and 30-day windows are still filling up, so counts and rates
    there look like no later week (PSI above 1 against any of them)."""
    return settled_window(split, DAYS.first_day, DAYS.warm_up_days)


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
        f"(sched_dep_utc AT TIME ZONE '{DAYS.zone}')::DATE "
        f"BETWEEN DATE '{first}' AND DATE '{last}')"
    )
