"""The evaluation's names and verdicts made short enough to be read in place in the UI."""

from assets.models.curves import INLINE_MARKDOWN_LIMIT
from flightpath.models.gate import Verdict

CHAMPION_ROLE = "champion"


def roles(candidates: list[str], champion: str | None, baseline: str) -> dict[str, str]:
    """Each compared model's column name: its registry name, `champion`, or the baseline's.
    A full tag (`delay_model_lgbm:bw2k…`) is too wide to head a column."""
    named = {tag: tag.split(":")[0] for tag in candidates}
    if champion is not None:
        named.setdefault(champion, CHAMPION_ROLE)  # a champion retrained unchanged is a candidate
    named[baseline] = baseline
    return named


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
