"""Time series for the Dagster UI: a table read in place, and the full chart behind a click."""

import io

import dagster as dg
import pandas as pd

from assets.kit.curves import markdown_image, pyplot
from assets.metadata import table


def history_table(series: pd.DataFrame) -> dg.TableMetadataValue:
    """A row per column of `series` (indexed by day): its latest value and its range. Drawn in
    place, where a chart would be a markdown image too long to show without a click."""
    latest = series.ffill().iloc[-1]
    frame = pd.DataFrame(
        {
            "series": [str(name) for name in series.columns],
            "latest": latest.to_numpy(),
            "mean": series.mean().to_numpy(),
            "min": series.min().to_numpy(),
            "max": series.max().to_numpy(),
            "days": series.notna().sum().to_numpy(),
        }
    )
    return table(frame)


def history_chart(
    series: pd.DataFrame, title: str, ylabel: str, lines: dict[str, float] | None = None
) -> str:
    """One line per column of `series` (indexed by day); `lines` are labelled thresholds."""
    plt = pyplot()
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


def dashboard(
    series: pd.DataFrame, title: str, ylabel: str, lines: dict[str, float] | None = None
) -> dict[str, dg.TableMetadataValue | dg.MarkdownMetadataValue]:
    """The metadata of a monitoring dashboard: the table at a glance, the chart in full."""
    return {
        "dashboard": history_table(series),
        "dashboard_chart": dg.MetadataValue.md(history_chart(series, title, ylabel, lines)),
    }
