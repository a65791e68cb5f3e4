"""The evaluation's names and verdicts made short enough to be read in place in the UI."""

import pandas as pd

from assets.kit.curves import INLINE_MARKDOWN_LIMIT
from flightpath.models.gate import Verdict

CHAMPION_ROLE = "champion"
BASELINE_ROLE = "baseline"
MEASURE = "measure"


def roles(
    candidates: list[str], champion: str | None, baseline: str, prefix: str
) -> dict[str, str]:
    """Each compared model's column name: its kind (`lgbm`), `champion` or `baseline`.
    A tag (`delay_model_lgbm:bw2k…`), even a registry name, is too wide to head a column:
    the metadata's value column is under 500 px in a 1600 px window. `prefix`: what every
    candidate's registry name begins with; the rest (`lgbm`, `torch`) tells them apart."""
    named = {tag: tag.split(":")[0].removeprefix(prefix) for tag in candidates}
    if champion is not None:
        named.setdefault(champion, CHAMPION_ROLE)  # a champion retrained unchanged is a candidate
    named[baseline] = BASELINE_ROLE
    return named


def models_table(role: dict[str, str]) -> pd.DataFrame:
    """Each compared model's role and its tag, said once, here."""
    return pd.DataFrame([{"role": name, "model": tag} for tag, name in role.items()])


def metrics_by_role(
    metrics: pd.DataFrame, role: dict[str, str], colours: dict[str, str]
) -> pd.DataFrame:
    """`metrics` (a row per model tag) turned: a row per measure, a column per model's role,
    under a first row with the colour of each model's ROC curve. A row per model would need
    a column per measure, wider than the metadata has room for."""
    turned = metrics.set_index("model").T.astype(object)
    turned = pd.concat([pd.DataFrame([colours], index=["curve"]), turned])[list(role)]
    return turned.rename(columns=role).rename_axis(MEASURE).reset_index()


def verdict_markdown(
    verdicts: list[Verdict],
    role: dict[str, str],
    winner: str | None,
    champion: str | None,
    refused: str | None,
) -> str:
    """The gate's decision, a line per candidate with its reasons, in roles rather than tags.
    Markdown wraps where text is cut off; over the UI's limit it would hide behind a click, so
    reasons are shortened to the first, then to a count, until it fits (all are in `decision`)."""

    def named(text: str) -> str:
        for tag, name in role.items():
            text = text.replace(tag, name)
        return text

    held = f"**keep {role[champion]}**" if champion else "**no promotion** (no champion)"
    head = f"**promote {role[winner]}**" if winner else held
    if refused:
        head += " (the champion's files do not verify: set aside, see `decision`)"
    for shown in (None, 1, 0):
        lines = [head]
        for verdict in verdicts:
            reasons = [named(reason) for reason in verdict.reasons]
            kept = reasons if shown is None else reasons[:shown]
            more = len(reasons) - len(kept)
            said = "; ".join(kept) + (f" (+{more} more in `decision`)" if more else "")
            if not kept:
                said = f"{more} reasons in `decision`" if more else "passes"
            lines.append(f"- {role[verdict.candidate]}: {said}")
        markdown = "\n".join(lines)
        if len(markdown) < INLINE_MARKDOWN_LIMIT:
            return markdown
    return head
