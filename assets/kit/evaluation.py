"""The evaluation and its blocking promotion gate, for any use case: every candidate, the
champion and a naive baseline scored on the same test rows; slices; curves; the gate's verdict."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from assets.kit.curves import curve_colours, curves_png, markdown_image, roc_markdown
from assets.kit.gate_check import gate_result, gate_spec
from assets.kit.glance import metrics_by_role, models_table, roles, verdict_markdown
from assets.metadata import table
from flightpath.models.gate import GateRules, decide, naive_baseline
from flightpath.models.metrics import scores, slice_scores
from flightpath.models.registry import DelayModel, ModelRegistry, RegistryError
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

BASELINE = "naive_baseline"
# The rows, train and test, that the candidates (registry tags) are compared on.
Parts = Callable[[Lake, ModelRegistry, list[str]], dict[str, pd.DataFrame]]


class GateConfig(dg.Config):
    """The promotion rule (see flightpath/models/gate.py); slice_min_rows unset: the use
    case's own."""

    min_gain: float = GateRules.min_gain
    confidence: float = GateRules.confidence
    resamples: int = GateRules.resamples
    max_ece: float = GateRules.max_ece
    slice_tolerance: float = GateRules.slice_tolerance
    slice_min_rows: int | None = None

    def rules(self, slice_min_rows: int) -> GateRules:
        settings = self.model_dump()
        if settings["slice_min_rows"] is None:
            settings["slice_min_rows"] = slice_min_rows
        return GateRules(**settings)


@dataclass(frozen=True)
class EvaluationPlan:
    """What a use case's evaluation compares, on which rows, and how it is judged and shown."""

    key: dg.AssetKey
    group: str
    candidates: dict[str, dg.AssetKey]  # each candidate's registry name and asset
    candidate_prefix: str  # their common start: the rest names a candidate's role (`lgbm`)
    champion_alias: str
    parts: Parts
    entity: str
    label: str
    gate_slices: tuple[str, ...]  # judged per value by the gate
    shown_slices: tuple[str, ...]  # shown per value in the slices table (columns of test)
    baseline_by: tuple[str, ...]
    slice_min_rows: int  # the gate's, unless the run's config says otherwise
    shown_min_rows: int  # the slices table's
    scores_table: str  # the lake table of every test row's scores
    describe_test: Callable[[pd.DataFrame], str]  # the test rows in words


def _champion(
    context: dg.AssetExecutionContext, registry: ModelRegistry, alias: str
) -> tuple[str | None, DelayModel | None, str | None]:
    """The champion to beat and its model, or, when its files do not verify, None and why:
    a broken champion must not stop a sound candidate from replacing it."""
    tag = registry.alias(alias)
    if tag is None:
        return None, None, None
    try:
        return tag, registry.load(tag), None
    except RegistryError as error:
        context.log.error(f"champion set aside, the naive baseline is the reference: {error}")
        return None, None, str(error)


def evaluation_asset(plan: EvaluationPlan) -> dg.AssetsDefinition:
    @dg.asset(
        key=plan.key,
        group_name=plan.group,
        deps=list(plan.candidates.values()),
        check_specs=[gate_spec(plan.key, " or ".join(plan.gate_slices))],
        description="ROC-AUC, PR-AUC, Brier, log loss and calibration of the candidates, the "
        "champion and the naive baseline on the test rows; slices; curves; the gate's verdict.",
        kinds={"python"},
    )
    def evaluation(
        context: dg.AssetExecutionContext,
        config: GateConfig,
        lake: Lake,
        model_registry: ModelRegistryResource,
    ) -> dg.MaterializeResult:
        registry = model_registry.registry()
        candidates = [str(registry.latest(name).tag) for name in plan.candidates]
        parts = plan.parts(lake, registry, candidates)
        test = parts["test"]
        sliced = list(dict.fromkeys([*plan.gate_slices, *plan.shown_slices]))
        rows = test[[plan.entity, *sliced]].assign(label=test[plan.label].to_numpy())
        champion, champion_model, refused = _champion(context, registry, plan.champion_alias)
        loaded = {tag: registry.load(tag) for tag in candidates}
        if champion is not None and champion_model is not None:
            loaded.setdefault(champion, champion_model)
        for tag, model in loaded.items():
            rows[tag] = model.predict(model.spec.matrix(test))
        rows[BASELINE] = naive_baseline(parts["train"], test, by=plan.baseline_by, label=plan.label)
        reference = champion or BASELINE
        rules = config.rules(plan.slice_min_rows)
        verdicts = decide(rows, candidates, reference, rules, plan.gate_slices)
        winner = next((v.candidate for v in verdicts if v.promote), None)
        lake.write_table(plan.scores_table, rows)

        compared = [*loaded, BASELINE]
        colours, labels = curve_colours(compared), rows["label"].to_numpy()
        # The tables and the verdicts name models by role, as a tag is too wide for a column
        # name: a candidate by its kind, the champion as `decision.champion` says; `models`
        # has the tags.
        role = roles(candidates, champion, BASELINE, plan.candidate_prefix)
        metrics = pd.DataFrame(
            [{"model": m, **scores(labels, rows[m].to_numpy())} for m in compared]
        )
        # The same for every model (the test rows): said once, in test_window, to keep the
        # table narrow enough to be read without scrolling.
        metrics = metrics.drop(columns=["rows", "base_rate"])
        # The candidates against the reference the gate held them to: a column per model is
        # what makes the table wide, and the other one (the baseline, once there is a
        # champion) has no say in the verdict.
        judged = list(dict.fromkeys([*candidates, reference]))
        slices = pd.concat(
            [slice_scores(rows, by, judged, plan.shown_min_rows) for by in plan.shown_slices]
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
                # The verdict first, in words. Markdown, not text: text metadata is drawn on
                # one line cut at the panel's edge, markdown wraps.
                "summary": dg.MetadataValue.md(
                    verdict_markdown(verdicts, role, winner, champion, refused)
                ),
                "test_window": plan.describe_test(rows),
                # Seen at a glance: the tables and the ROC curves are drawn in place in the UI.
                "models": table(models_table(role)),
                "metrics": table(metrics_by_role(metrics, role, colours)),
                "roc_curves": dg.MetadataValue.md(roc_markdown(rows, compared)),
                "slices": table(slices) if len(slices) else "no slice has enough rows",
                # In full (ROC, precision-recall, calibration): too large to draw in place.
                "curves": dg.MetadataValue.md(markdown_image(curves_png(rows, compared), "curves")),
                # Numbers under stable names: the UI plots each across materialisations.
                **{
                    f"{m.split(':')[0]}/roc_auc": float(auc)
                    for m, auc in zip(metrics["model"], metrics["roc_auc"], strict=True)
                    if m in candidates or m == BASELINE
                },
                # The whole record, read by the promotion and by people after the reasons the
                # summary cuts: last, below what is read at a glance.
                "decision": dg.MetadataValue.json(decision),
            },
            check_results=[gate_result(winner, summary, decision["verdicts"])],
        )

    return evaluation
