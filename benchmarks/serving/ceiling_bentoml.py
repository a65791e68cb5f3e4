"""The framework's own ceiling: a BentoML service with our service's settings (workers too) and
input model that answers a constant prediction (no features, no model).

    bentoml serve benchmarks.serving.ceiling_bentoml:ConstantService
"""

from __future__ import annotations

from typing import Annotated

import bentoml
from pydantic import Field

from bentos.http_settings import http_settings
from bentos.schema import MAX_FLIGHTS, Flight, Prediction, Predictions

ANSWER = Prediction(flight_id="UA1545-EWR-20130715T1215Z", probability=0.25, delayed=False,
                    model="delay_model_lgbm:constant", role="champion", features_as_of={},
                    degraded=False)  # fmt: skip


@bentoml.service(name="constant_delay", **http_settings())
class ConstantService:
    @bentoml.api(route="/predict")
    def predict(
        self,
        flights: Annotated[list[Flight], Field(min_length=1, max_length=MAX_FLIGHTS)],
        explain: bool = False,
    ) -> Predictions:
        return Predictions(request_id="0" * 32, threshold=0.5, predictions=[ANSWER] * len(flights))
