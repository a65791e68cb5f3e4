"""Every candidate, the champion and a naive baseline scored on the same test window; the gate."""

from typing import Any

import dagster as dg
import pandas as pd

from assets.metadata import table
from assets.models.curves import curve_colours, curves_png, markdown_image, roc_markdown
from assets.models.gate_check import gate_result, gate_spec
from assets.models.glance import metrics_by_role, models_table, roles, verdict_markdown
from assets.models.training import GROUP, delay_model_lgbm, delay_model_torch
from flightpath.models.features import LABEL
from flightpath.models.gate import GateRules, decide, naive_baseline
from flightpath.models.metrics import scores, slice_scores
from flightpath.models.registry import CHAMPION, DelayModel, ModelRegistry, RegistryError
from flightpath.models.splits import Split, local_days, split_frame
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

CANDIDATES = ("delay_model_lgbm", "delay_model_torch")
BASELINE = "naive_baseline"


class GateConfig(dg.Config):
    """The promotion rule (see flightpath/models/gate.py)."""

    min_gain: float = GateRules.min_gain
    confidence: float = GateRules.confidence
    resamples: int = GateRules.resamples
    max_ece: float = GateRules.max_ece
    slice_tolerance: float = GateRules.slice_tolerance
    slice_min_rows: int = GateRules.slice_min_rows

    def rules(self) -> GateRules:
        return GateRules(**self.model_dump())


def _candidate_split(registry: ModelRegistry, tags: list[str]) -> Split:
    """The split the candidates were trained on: they must share it to be compared."""
    described: dict[str, Any] = {tag: registry.get(tag).info.metadata["split"] for tag in tags}
    if len({str(d) for d in described.values()}) > 1:
        raise ValueError(f"candidates were trained on different splits: {described}")
    return Split.from_metadata(next(iter(described.values())))


def _champion(
    context: dg.AssetExecutionContext, registry: ModelRegistry
) -> tuple[str | None, DelayModel | None, str | None]:
    """The champion to beat and its model, or, when its files do not verify, None and why:
    a broken champion must not stop a sound candidate from replacing it."""
    tag = registry.alias(CHAMPION)
    if tag is None:
        return None, None, None
    try:
        return tag, registry.load(tag), None
    except RegistryError as error:
        context.log.error(f"champion set aside, the naive baseline is the reference: {error}")
        return None, None, str(error)


@dg.asset(
    group_name=GROUP,
    deps=[delay_model_lgbm, delay_model_torch],
    check_specs=[gate_spec(dg.AssetKey("model_evaluation"), "carrier or origin")],
    description="ROC-AUC, PR-AUC, Brier, log loss and calibration of the candidates, the "
    "champion and the naive baseline on the test window; slices; curves; the gate's verdict.",
    kinds={"python"},
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    config: GateConfig,
    lake: Lake,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    registry = model_registry.registry()
    candidates = [str(registry.latest(name).tag) for name in CANDIDATES]
    parts = split_frame(lake.read_table("training_set"), _candidate_split(registry, candidates))
    test = parts["test"]
    rows = pd.DataFrame(
        {
            "flight_id": test["flight_id"],
            "label": test[LABEL].to_numpy(),
            "carrier": test["carrier"],
            "origin": test["origin"],
            "month": pd.to_datetime(local_days(test)).dt.month,
        }
    )
    champion, champion_model, refused = _champion(context, registry)
    loaded = {tag: registry.load(tag) for tag in candidates}
    if champion is not None and champion_model is not None:
        loaded.setdefault(champion, champion_model)
    models = list(loaded)
    for tag, model in loaded.items():
        rows[tag] = model.predict(model.spec.matrix(test))
    rows[BASELINE] = naive_baseline(parts["train"], test)
    reference = champion or BASELINE
    verdicts = decide(rows, candidates, reference, config.rules())
    winner = next((v.candidate for v in verdicts if v.promote), None)
    lake.write_table("model_evaluation_scores", rows)

    compared = [*models, BASELINE]
    colours, labels = curve_colours(compared), rows["label"].to_numpy()
    # The tables and the verdicts name models by role, as a tag is too wide for a column name:
    # a candidate by its kind, the champion as `decision.champion` says; `models` has the tags.
    role = roles(candidates, champion, BASELINE)
    metrics = pd.DataFrame([{"model": m, **scores(labels, rows[m].to_numpy())} for m in compared])
    # The same for every model (the test rows): said once, in test_window, to keep the table
    # narrow enough to be read without scrolling.
    metrics = metrics.drop(columns=["rows", "base_rate"])
    # The candidates against the reference the gate held them to: a column per model is what
    # makes the table wide, and the other one (the baseline, once there is a champion) has no
    # say in the verdict.
    judged = list(dict.fromkeys([*candidates, reference]))
    slices = pd.concat(
        [slice_scores(rows, by, judged, min_rows=200) for by in ("carrier", "origin", "month")]
    ).rename(columns=role)
    decision: dict[str, Any] = {
        "winner": winner,
        "champion": champion,
        "champion_refused": refused,  # why the promoted champion was set aside, if it was
        "reference": reference,
        "candidates": candidates,
        "verdicts": [v.to_dict() for v in verdicts],
    }
    reasons = [f"{v.candidate}: {'; '.join(v.reasons) or 'passes'}" for v in verdicts]
    summary = (
        f"promote {winner} (reference {reference})"
        if winner
        else f"keep {champion or 'no champion'}: " + " | ".join(reasons)
    )
    if refused:
        summary = f"{summary} (champion set aside: {refused})"
    context.log.info(summary)
    return dg.MaterializeResult(
        metadata={
            # The verdict first, in words. Markdown, not text: text metadata is drawn on one
            # line cut at the panel's edge, markdown wraps.
            "summary": dg.MetadataValue.md(
                verdict_markdown(verdicts, role, winner, champion, refused)
            ),
            "test_window": f"{rows['month'].min()}..{rows['month'].max()} (months), "
            f"{len(rows)} flights, {labels.mean():.1%} delayed",
            # Seen at a glance: the tables and the ROC curves are drawn in place in the UI.
            "models": table(models_table(role)),
            "metrics": table(metrics_by_role(metrics, role, colours)),
            "roc_curves": dg.MetadataValue.md(roc_markdown(rows, compared)),
            "slices": table(slices),
            # In full (ROC, precision-recall, calibration): too large to draw in place.
            "curves": dg.MetadataValue.md(markdown_image(curves_png(rows, compared), "curves")),
            # Numbers under stable names: the UI plots each across materialisations.
            **{
                f"{m.split(':')[0]}/roc_auc": float(auc)
                for m, auc in zip(metrics["model"], metrics["roc_auc"], strict=True)
                if m in candidates or m == BASELINE
            },
            # The whole record, read by `champion` and by people after the reasons the summary
            # cuts: last, below what is read at a glance.
            "decision": dg.MetadataValue.json(decision),
        },
        check_results=[gate_result(winner, summary, decision["verdicts"])],
    )
