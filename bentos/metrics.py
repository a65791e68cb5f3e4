"""The service's own Prometheus metrics, created in the worker, once.

`prometheus_client` is imported here, when the service starts, not when its module is: BentoML
sets the worker's multiprocess directory after importing the service module, and a client
imported before that would count in a registry `/metrics` never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class ServiceMetrics:
    predictions: Any
    degraded: Any
    stale: Any
    model_refused: Any
    shadow_dropped: Any


@cache
def service_metrics() -> ServiceMetrics:
    import prometheus_client

    return ServiceMetrics(
        predictions=prometheus_client.Counter(
            name="flightpath_predictions_total",
            documentation="Predictions answered, by model role",
            labelnames=["role"],
        ),
        degraded=prometheus_client.Counter(
            name="flightpath_degraded_predictions_total",
            documentation="Predictions answered with fallback features",
            labelnames=["reason"],
        ),
        stale=prometheus_client.Counter(
            name="flightpath_stale_predictions_total",
            documentation="Predictions from features computed after the departure (future) "
            "or longer before it than the limit (too_old)",
            labelnames=["reason"],
        ),
        # A promoted model the service refuses (its files do not verify) while it answers with
        # the last good one. The service stays ready: every replica would refuse the same files,
        # so going unready would take the whole service down over a model it does not need;
        # this gauge is the alarm.
        model_refused=prometheus_client.Gauge(
            name="flightpath_model_refused",
            documentation="1 while a promoted model is refused and the last good one answers",
            labelnames=["alias", "tag"],
            multiprocess_mode="livemax",
        ),
        shadow_dropped=prometheus_client.Counter(
            name="flightpath_shadow_dropped_total",
            documentation="Rows the challenger did not shadow: its queue was full (overload), "
            "its scoring failed, or the service was stopping",
            labelnames=["reason"],
        ),
    )
