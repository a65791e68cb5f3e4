"""ROC, precision-recall and calibration curves as one PNG, shown inline in the Dagster UI."""

import base64
import io
import urllib.parse
from types import ModuleType

import numpy as np
import pandas as pd

from flightpath.models.metrics import calibration_table


def pyplot() -> ModuleType:
    """matplotlib's pyplot, rendering to memory. Imported where a chart is drawn: matplotlib and
    scikit-learn add ~2 s to every load of the code location (each run, the daemon, the code
    server), and only evaluations and dashboards draw."""
    import matplotlib

    matplotlib.use("Agg")  # no screen
    import matplotlib.pyplot as plt

    return plt


def curves_png(rows: pd.DataFrame, models: list[str]) -> bytes:
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = pyplot()
    labels = rows["label"].to_numpy()
    figure, (roc, pr, calibration) = plt.subplots(1, 3, figsize=(15, 4.5))
    for name in models:
        predicted = rows[name].to_numpy()
        fpr, tpr, _ = roc_curve(labels, predicted)
        roc.plot(fpr, tpr, label=name)
        precision, recall, _ = precision_recall_curve(labels, predicted)
        pr.plot(recall, precision, label=name)
        table = calibration_table(labels, predicted)
        calibration.plot(table["predicted"], table["observed"], marker="o", label=name)
    roc.plot([0, 1], [0, 1], "k:", linewidth=1)
    pr.axhline(float(np.mean(labels)), color="k", linestyle=":", linewidth=1)
    calibration.plot([0, 1], [0, 1], "k:", linewidth=1)
    for axis, title, x, y in (
        (roc, "ROC", "false positive rate", "true positive rate"),
        (pr, "Precision-recall", "recall", "precision"),
        (calibration, "Calibration", "mean predicted probability", "observed delay rate"),
    ):
        axis.set(title=title, xlabel=x, ylabel=y, xlim=(0, 1), ylim=(0, 1))
        axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, title: str) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


# The UI draws a markdown value in place only when it is shorter than this; longer ones hide
# behind "[Show Markdown]". Dagster 1.13 has no image metadata type, so an image meant to be seen
# at a glance must be a markdown image this short.
INLINE_MARKDOWN_LIMIT = 1000
# Named colours: short, and free of the '#' a data URL would have to escape.
CURVE_COLOURS = ("blue", "orange", "green", "red", "purple", "brown", "teal", "olive")
_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='-1 -1 102 102' width='220' height='220'>"
    "<rect width='100' height='100' fill='white' stroke='gray'/>"
    "<path d='M0 100L100 0' stroke='gray' stroke-dasharray='2'/>{curves}</svg>"
)


def roc_markdown(rows: pd.DataFrame, models: list[str]) -> str:
    """Each model's ROC curve, coloured as `curve_colours` names them, as a markdown image
    short enough to be drawn inline: the curves are sampled at fewer points until it fits."""
    if len(models) > len(CURVE_COLOURS):
        raise ValueError(f"{len(models)} models, colours for {len(CURVE_COLOURS)}")
    from sklearn.metrics import roc_curve

    labels = rows["label"].to_numpy()
    curves = [roc_curve(labels, rows[name].to_numpy())[:2] for name in models]
    for points in range(40, 2, -1):
        grid = np.linspace(0, 1, points) ** 2  # denser where a ROC curve climbs steeply
        lines = "".join(
            f"<polyline fill='none' stroke='{colour}' points='{_points(grid, fpr, tpr)}'/>"
            for colour, (fpr, tpr) in zip(CURVE_COLOURS, curves, strict=False)
        )
        # Percent-encoded rather than base64: a third shorter, so more points fit.
        svg = urllib.parse.quote(_SVG.format(curves=lines), safe="/:=',.-")
        markdown = f"![ROC](data:image/svg+xml,{svg})"
        if len(markdown) < INLINE_MARKDOWN_LIMIT:
            return markdown
    raise ValueError(f"{len(models)} ROC curves do not fit in {INLINE_MARKDOWN_LIMIT} characters")


def curve_colours(models: list[str]) -> dict[str, str]:
    """The colour of each model's curve in `roc_markdown`."""
    return dict(zip(models, CURVE_COLOURS, strict=False))


def _points(grid: np.ndarray, fpr: np.ndarray, tpr: np.ndarray) -> str:
    """The curve at each false positive rate of `grid`, in the SVG's 0..100 box (y down)."""
    tprs = np.interp(grid, fpr, tpr)
    # Commas alone separate the numbers: a space would cost three characters encoded.
    return ",".join(
        f"{round(x * 100)},{round(100 - y * 100)}" for x, y in zip(grid, tprs, strict=True)
    )
