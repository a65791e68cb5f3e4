"""BentoML's settings for the service, shared with the benchmark's constant-answer service so
that the two compare the same HTTP stack."""

from __future__ import annotations

from typing import Any

from bentos.workers import api_workers


def http_settings() -> dict[str, Any]:
    """`@bentoml.service` keyword arguments, besides the name."""
    return {
        "traffic": {"timeout": 10},
        "http": {"host": "127.0.0.1"},  # this machine only, unless `--host` says otherwise
        # An access-log line per request cost ~25% of throughput, a span per /predict with no
        # exporter ~20% (benchmarks/serving); /metrics still counts every request.
        "logging": {"access": {"enabled": False}},
        "tracing": {"excluded_urls": ["/predict"]},
        "workers": api_workers(),
    }
