"""The tutorial way to serve the champion: Feast's feature service per request, then pandas.

    FLIGHTPATH_HOME=... BENTOML_HOME=.../bentoml bentoml serve \
        benchmarks.serving.naive_service:NaiveDelayService

Default BentoML settings (one worker, access log on). Per request: `get_online_features` with
the `delay_model_serving` feature service (the on-demand view computes the schedule context),
`to_df()`, the same `FeatureSpec.matrix` encoding as training, `predict` with LightGBM's
default threads. Same store settings as the real service: FLIGHTPATH_FEAST_PROFILE and
FLIGHTPATH_FEAST_PROJECT.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import bentoml
from pydantic import BaseModel

from feature_repo.store import open_store
from flightpath.entity_views import SERVING_SERVICE
from flightpath.models.registry import ModelRegistry


class NaiveFlight(BaseModel):
    carrier: str
    flight: int
    tailnum: str
    origin: str
    dest: str
    sched_dep: datetime


@bentoml.service(name="naive_flight_delay")
class NaiveDelayService:
    def __init__(self) -> None:
        home = Path(os.environ.get("FLIGHTPATH_HOME", ".flightpath")).resolve()
        profile = os.environ.get("FLIGHTPATH_FEAST_PROFILE", "feature_store.yaml")
        project = os.environ.get("FLIGHTPATH_FEAST_PROJECT") or None
        self.store = open_store(str(home), profile, project)
        registry = ModelRegistry(home / "bentoml")
        tag = registry.alias("champion")
        if tag is None:
            raise RuntimeError(f"no champion in {registry.root}")
        self.model = registry.load(tag)
        self.tag = tag

    @bentoml.api(route="/predict")
    def predict(self, flights: list[NaiveFlight]) -> dict:
        entity_rows = [
            {"origin": f.origin, "carrier": f.carrier, "route": f"{f.origin}-{f.dest}",
             "tailnum": f.tailnum, "sched_dep_utc": f.sched_dep}
            for f in flights
        ]  # fmt: skip
        frame = self.store.get_online_features(
            features=self.store.get_feature_service(SERVING_SERVICE),
            entity_rows=entity_rows,
        ).to_df()
        frame["dest"] = [f.dest for f in flights]
        for name in self.model.spec.features:  # a model may read columns serving lacks
            if name not in frame:
                frame[name] = None
        probabilities = self.model.predict(self.model.spec.matrix(frame))
        return {
            "model": self.tag,
            "predictions": [
                {"probability": float(p), "delayed": bool(p >= 0.5)} for p in probabilities
            ],
        }
