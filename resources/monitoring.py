"""When the closed loop retrains: thresholds on drift and live performance, and a cool-down."""

import dagster as dg


class MonitoringPolicy(dg.ConfigurableResource):
    """The monitoring assets flag what crosses these; the retrain sensor acts on the flags.

    The defaults are the conventional PSI bands (0.1 moderate, 0.25 major shift) and a ROC-AUC
    drop that a week of labelled flights (about 6,000) resolves: its standard error is ~0.007.
    """

    feature_psi: float = 0.25  # a non-seasonal feature's PSI over this is drift
    prediction_psi: float = 0.25  # the score distribution's PSI over this is drift
    auc_drop: float = 0.03  # trailing live ROC-AUC this far under the champion's test ROC-AUC
    trailing_days: int = 7  # live ROC-AUC is judged over this many labelled days ...
    min_labelled: int = 2000  # ... once they hold this many labelled flights
    cooldown_days: int = 7  # feed days between two retrains, whatever asked for them
