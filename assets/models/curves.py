"""ROC, precision-recall and calibration curves as one PNG, shown inline in the Dagster UI."""

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no screen: render to memory

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from flightpath.models.metrics import calibration_table


def curves_png(rows: pd.DataFrame, models: list[str]) -> bytes:
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
