"""What the UI draws in place: the gate's verdicts and the monitoring dashboards, short enough."""

import dagster as dg
import numpy as np
import pandas as pd

from assets.kit.curves import INLINE_MARKDOWN_LIMIT
from assets.kit.glance import MEASURE, metrics_by_role, models_table, roles, verdict_markdown
from assets.monitoring.dashboard import dashboard, history_table
from flightpath.models.gate import Verdict

LGBM, TORCH, CHAMPION = (
    "delay_model_lgbm:bw2knzxmqctxuax4",
    "delay_model_torch:x1",
    "delay_model_lgbm:old",
)


def _verdict(candidate: str, reasons: list[str]) -> Verdict:
    return Verdict(candidate, CHAMPION, not reasons, 0.0, -0.01, 0.01, 0.02, reasons)


def test_roles_name_the_champion_apart_from_a_candidate_of_the_same_model() -> None:
    role = roles([LGBM, TORCH], CHAMPION, "naive_baseline", "delay_model_")
    assert role == {
        LGBM: "lgbm",
        TORCH: "torch",
        CHAMPION: "champion",
        "naive_baseline": "baseline",
    }
    # A champion that is also a candidate (retrained to the same tag) keeps the candidate's name.
    assert roles([LGBM, TORCH], LGBM, "naive_baseline", "delay_model_")[LGBM] == "lgbm"


def test_verdicts_are_said_in_roles_and_each_candidate_on_its_own_line() -> None:
    role = roles([LGBM, TORCH], CHAMPION, "naive_baseline", "delay_model_")
    reasons = [f"ROC-AUC gain over {CHAMPION} is -0.0100, below the margin +0.0020"]
    text = verdict_markdown(
        [_verdict(LGBM, reasons), _verdict(TORCH, [])], role, None, CHAMPION, None
    )
    assert text.splitlines() == [
        "**keep champion**",
        "- lgbm: ROC-AUC gain over champion is -0.0100, below the margin +0.0020",
        "- torch: passes",
    ]
    promoted = verdict_markdown([_verdict(TORCH, [])], role, TORCH, None, None)
    assert promoted.splitlines()[0] == "**promote torch**"
    assert verdict_markdown([], role, None, None, "bad file").startswith("**no promotion**")


def test_metrics_are_turned_to_a_column_per_model_with_the_tags_said_once_beside() -> None:
    role = roles([LGBM, TORCH], CHAMPION, "naive_baseline", "delay_model_")
    metrics = pd.DataFrame(
        [{"model": tag, "roc_auc": 0.7 + i / 100, "ece": 0.01 * i} for i, tag in enumerate(role)]
    )
    colours = dict(zip(role, ["blue", "orange", "green", "red"], strict=True))
    turned = metrics_by_role(metrics, role, colours)
    assert list(turned.columns) == [MEASURE, "lgbm", "torch", "champion", "baseline"]
    assert turned.set_index(MEASURE).to_dict("index") == {
        "curve": {"lgbm": "blue", "torch": "orange", "champion": "green", "baseline": "red"},
        "roc_auc": {"lgbm": 0.7, "torch": 0.71, "champion": 0.72, "baseline": 0.73},
        "ece": {"lgbm": 0.0, "torch": 0.01, "champion": 0.02, "baseline": 0.03},
    }
    assert models_table(role).to_dict("records") == [
        {"role": name, "model": tag} for tag, name in role.items()
    ]


def test_many_reasons_are_cut_to_fit_in_place_and_counted() -> None:
    role = roles([LGBM, TORCH], CHAMPION, "naive_baseline", "delay_model_")
    many = [f"carrier C{i}: ROC-AUC 0.6000 against 0.7000 ({200 + i} flights)" for i in range(30)]
    text = verdict_markdown(
        [_verdict(LGBM, many), _verdict(TORCH, many)], role, None, CHAMPION, None
    )
    assert len(text) < INLINE_MARKDOWN_LIMIT  # else the UI hides it behind "[Show Markdown]"
    assert "(+29 more in `decision`)" in text and many[0] in text
    # And with reasons too long even one at a time, only their count.
    huge = ["x" * 600]
    text = verdict_markdown(
        [_verdict(LGBM, huge), _verdict(TORCH, huge)], role, None, CHAMPION, None
    )
    assert "- lgbm: 1 reasons in `decision`" in text and "x" * 600 not in text


def test_a_dashboard_is_a_table_in_place_with_the_chart_behind_a_click() -> None:
    days = pd.date_range("2013-01-01", periods=60, freq="D")
    series = pd.DataFrame(
        {"dep_hour": np.linspace(0, 0.3, 60), "probability": np.linspace(0.1, 0.2, 60)}, index=days
    )
    series.iloc[-1, 0] = np.nan  # not scored on the last day: its latest value is the day before
    metadata = dashboard(series, "PSI", "PSI", {"threshold": 0.2})
    assert isinstance(metadata["dashboard"], dg.TableMetadataValue)
    assert metadata["dashboard_chart"].value.startswith("![PSI](data:image/png;base64,")
    rows = {r.data["series"]: r.data for r in history_table(series).records}
    assert rows["dep_hour"]["latest"] == round(0.3 * 58 / 59, 4) and rows["dep_hour"]["days"] == 59
    assert rows["probability"]["max"] == 0.2 and rows["probability"]["min"] == 0.1
    assert len(history_table(series).schema.columns) == 6  # a row per series, not per day
