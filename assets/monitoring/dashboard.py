"""Time series for the Dagster UI: a small PNG inline in an asset's metadata."""

import io

import matplotlib

matplotlib.use("Agg")  # no screen: render to memory

import matplotlib.pyplot as plt
import pandas as pd

from assets.models.curves import markdown_image


def history_chart(
    series: pd.DataFrame, title: str, ylabel: str, lines: dict[str, float] | None = None
) -> str:
    """One line per column of `series` (indexed by day); `lines` are labelled thresholds."""
    figure, axis = plt.subplots(figsize=(10, 3.6))
    for name in series.columns:
        axis.plot(series.index, series[name], marker=".", label=name)
    for label, value in (lines or {}).items():
        axis.axhline(value, color="k", linestyle=":", linewidth=1)
        axis.annotate(label, (series.index.min(), value), fontsize=7, va="bottom")
    axis.set(title=title, ylabel=ylabel)
    axis.legend(fontsize=7, loc="upper left", ncols=2)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return markdown_image(buffer.getvalue(), title)
