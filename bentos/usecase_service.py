"""The prediction service of any use case: its champion's probability per entity, from Feast.

    FLIGHTPATH_USECASE=usecases.mortgage.definition:MORTGAGE FLIGHTPATH_HOME=.flightpath \\
      FLIGHTPATH_API_KEYS=k1 bentoml serve bentos.usecase_service:UseCaseService

`POST /predict` takes `{"<entity>": [ids...]}` (`{"application_id": [1, 2]}` for the mortgage use
case) and answers per id: the id, the probability of the label, the label (probability ≥ 0.5),
the model's tag and role, and when its features were computed. Everything is named from the use
case's definition: the entity and the label, its feature service in its own Feast project, its
champion alias in the registry (hot-swapped, a broken model refused: `bentos.champion`), its
challenger alias (shadowed off the request path by `bentos.shadow`, its scores logged with role
`shadow` and never returned; or answering a sticky share of ids, role `canary`), its prediction
log in the lake. An id the store has no features for is a 404 naming it; a malformed body a 400
naming the field; an online store that cannot be read a 503 with Retry-After (no features, no
answer: no request-time features to fall back on).
Environment: FLIGHTPATH_USECASE (module:attribute), FLIGHTPATH_HOME, FLIGHTPATH_FEAST_PROFILE,
FLIGHTPATH_API_KEYS / FLIGHTPATH_AUTH=off, FLIGHTPATH_WORKERS, FLIGHTPATH_SHADOW_QUEUE_ROWS,
FLIGHTPATH_CANARY_FRACTION (share of ids the challenger answers; 0).
"""

from __future__ import annotations

import importlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import JSONResponse

from bentos.canary import canary_fraction, is_canary
from bentos.champion import ChampionWatcher, Refusal
from bentos.client_errors import log_client_errors_as_info
from bentos.error_body import OneErrorShape, error_body
from bentos.guard import ApiKeyGuard
from bentos.http_settings import http_settings
from bentos.limits import BodyLimit
from bentos.prediction_log import PredictionLog
from bentos.shadow import ShadowQueue, ShadowRow, shadow_log_rows, shadow_queue_rows
from bentos.store_guard import StoreUnreachable
from bentos.third_party_warnings import hide_third_party_deprecations
from bentos.usecase_features import UseCaseFeatures
from bentos.workers import api_workers
from feature_repo.store import open_store
from flightpath.api_keys import api_keys_from_env
from flightpath.home import bentoml_home, data_home
from flightpath.models.registry import ModelRegistry
from flightpath.quality.contracts import Kind
from flightpath.storage import lake_location, location
from flightpath.usecase import USECASE_VARIABLE, UseCase

MAX_IDS = 500  # per request
THRESHOLD = 0.5
PYTHON_TYPES: dict[Kind, type] = {Kind.INTEGER: int, Kind.NUMBER: float, Kind.TEXT: str}


def usecase_from_env() -> UseCase:
    """The use case FLIGHTPATH_USECASE names as `module:attribute`, imported now: the service
    knows no use case by name (bentos/ imports only the library)."""
    ref = os.environ.get(USECASE_VARIABLE, "")
    module, _, attribute = ref.partition(":")
    if not module or not attribute:
        raise RuntimeError(
            f"{USECASE_VARIABLE} must name a use case as module:attribute "
            f"(usecases.mortgage.definition:MORTGAGE), not {ref!r}"
        )
    usecase = getattr(importlib.import_module(module), attribute, None)
    if not isinstance(usecase, UseCase):
        raise RuntimeError(f"{USECASE_VARIABLE}={ref} is not a UseCase: {usecase!r}")
    return usecase


USECASE = usecase_from_env()
ENTITY_TYPE: Any = PYTHON_TYPES[USECASE.columns[USECASE.entity]]
# The body and the answer, named after the use case's entity and label (built at run time).
REQUEST_FIELDS: dict[str, Any] = {
    USECASE.entity: (list.__class_getitem__(ENTITY_TYPE), Field(min_length=1, max_length=MAX_IDS))
}
ANSWER_FIELDS: dict[str, Any] = {
    USECASE.entity: (ENTITY_TYPE, ...),
    "probability": (float, Field(description=f"the probability that {USECASE.title}")),
    USECASE.label: (bool, Field(description=f"probability ≥ {THRESHOLD}")),
    "model": (str, Field(description="the tag (name:version) of the model that answered")),
    "role": (str, Field(description="champion, or canary: the challenger answered this id")),
    "features_as_of": (datetime, Field(description="when the newest of its features was made")),
}
Request = create_model("Request", __config__=ConfigDict(extra="forbid"), **REQUEST_FIELDS)
Answer = create_model("Answer", **ANSWER_FIELDS)


class Answers(BaseModel):
    request_id: str
    threshold: float
    predictions: list[Answer]  # type: ignore[valid-type]


hide_third_party_deprecations()


@bentoml.service(name=f"{USECASE.name}_prediction", **http_settings())
class UseCaseService:
    def __init__(self) -> None:
        import prometheus_client  # in the worker, after BentoML set its metrics directory

        log_client_errors_as_info()
        home = data_home()
        self.predictions = prometheus_client.Counter(
            "flightpath_usecase_predictions_total", "Predictions answered", ["usecase"]
        )
        self.refused = prometheus_client.Gauge(
            "flightpath_model_refused", "1 while a promoted model is refused and the last good "
            "one answers", ["alias", "tag"], multiprocess_mode="livemax",
        )  # fmt: skip
        self.shadow_dropped = prometheus_client.Counter(
            "flightpath_shadow_dropped", "Rows the challenger did not score", ["reason"]
        )
        self.models = _watcher(home, self._report_refusal)
        self.canary = canary_fraction()
        self.shadow: ShadowQueue[ShadowRow] = ShadowQueue(
            self._shadow,
            on_drop=lambda reason, n: self.shadow_dropped.labels(reason=reason).inc(n),
            capacity=shadow_queue_rows(),
        )
        profile = os.environ.get("FLIGHTPATH_FEAST_PROFILE", "feature_store.yaml")
        store = open_store(str(home), profile, project=USECASE.feast_project)
        self.features = UseCaseFeatures(store, USECASE)
        self.log = PredictionLog(location(lake_location(home)) / USECASE.table("prediction_log"))

    @bentoml.on_deployment
    def refuse_to_start() -> None:
        """Before any worker: no keys, or no champion that verifies, and no service."""
        api_keys_from_env()
        api_workers()
        shadow_queue_rows()
        canary_fraction()
        _watcher(data_home(), poll_seconds=3600).close()

    @bentoml.api(route="/predict", input_spec=Request, output_spec=Answers)
    def predict(self, **body: Any) -> Answers | JSONResponse:
        """The champion's (or the canary's) probability per id; a 404 naming unknown ids."""
        ids = body[USECASE.entity]
        lineup = self.models.lineup  # one champion and challenger per request, even mid-swap
        try:
            rows = self.features.read(ids)
        except StoreUnreachable as outage:
            retry = self.features.guard.retry_after_seconds
            return JSONResponse(
                {"error": f"the online store of {USECASE.feast_project} cannot be read "
                 f"({outage.reason}); retry in {retry} s"},
                status_code=503, headers={"Retry-After": str(retry)},
            )  # fmt: skip
        unknown = [(i, key) for i, key in enumerate(ids) if key not in rows]
        if unknown:
            return JSONResponse(error_body([
                (f"{USECASE.entity}.{i}", f"no features for {USECASE.entity} {key} in the "
                 f"online store of {USECASE.feast_project}") for i, key in unknown
            ]), status_code=404)  # fmt: skip
        request_id = uuid.uuid4().hex
        canary = [lineup.challenger is not None and is_canary(str(key), self.canary) for key in ids]
        answers: list[Any] = [None] * len(ids)
        encoded: list[Any] = [None] * len(ids)  # (spec, matrix row) of each answer
        for role, served in (("champion", lineup.champion), ("canary", lineup.challenger)):
            chosen = [i for i, c in enumerate(canary) if c == (role == "canary")]
            if not chosen or served is None:
                continue
            matrix = served.model.spec.rows([rows[ids[i]].values for i in chosen])
            for k, (i, p) in enumerate(zip(chosen, served.model.predict(matrix), strict=True)):
                answers[i] = _answer(ids[i], float(p), served.tag, role, rows[ids[i]].as_of)
                encoded[i] = (served.model.spec, matrix[k])
        logged = [_log_row(request_id, answer, rows[key].values)
                  for key, answer in zip(ids, answers, strict=True)]  # fmt: skip
        self.log.append(logged)
        if lineup.challenger is not None and not all(canary):  # queued, never waited for
            self.shadow.offer([
                ShadowRow(lineup.challenger, rows[ids[i]].values, logged[i], *encoded[i])
                for i, c in enumerate(canary) if not c
            ])  # fmt: skip
        self.predictions.labels(usecase=USECASE.name).inc(len(answers))
        return Answers(request_id=request_id, threshold=THRESHOLD, predictions=answers)

    def __is_ready__(self) -> bool:
        """A champion is loaded (the service does not start without one) and the store answers."""
        return self.features.reachable()

    @bentoml.on_shutdown
    def close(self) -> None:
        self.models.close()
        self.shadow.close()  # its rows reach the log's last flush
        self.log.close()

    def _shadow(self, rows: list[ShadowRow]) -> None:
        """The challenger scores a batch of ids the champion answered (the shadow's thread)."""
        now = datetime.now(UTC)

        def answered(tag: str, probability: float) -> dict[str, Any]:
            return {"model": tag, "role": "shadow", "probability": probability,
                    USECASE.label: probability >= THRESHOLD, "logged_at": now}  # fmt: skip

        self.log.append(shadow_log_rows(rows, lambda s, m: s.model.predict(m), answered))

    def _report_refusal(self, refusal: Refusal, active: bool) -> None:
        self.refused.labels(alias=refusal.alias, tag=refusal.tag).set(int(active))


# In this order: a request without a key is refused before its body is read.
UseCaseService.add_asgi_middleware(ApiKeyGuard)  # type: ignore[attr-defined]
UseCaseService.add_asgi_middleware(BodyLimit)  # type: ignore[attr-defined]
UseCaseService.add_asgi_middleware(OneErrorShape)  # type: ignore[attr-defined]


def _watcher(home: Path, on_refusal: Any = None, poll_seconds: float = 1.0) -> ChampionWatcher:
    """The use case's champion and challenger aliases."""
    registry = ModelRegistry(bentoml_home(home))
    return ChampionWatcher(
        registry, poll_seconds, on_refusal, USECASE.champion_alias, USECASE.challenger_alias
    )


def _answer(key: Any, probability: float, tag: str, role: str, as_of: datetime) -> BaseModel:
    """An id's answer, by the champion or, for the canary's share, the challenger."""
    return Answer(**{USECASE.entity: key, "probability": probability, "model": tag, "role": role,
                     USECASE.label: probability >= THRESHOLD, "features_as_of": as_of})  # fmt: skip


def _log_row(request_id: str, answer: BaseModel, features: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "request_id": request_id,
        **answer.model_dump(),  # its role: champion or canary (returned), shadow (logged only)
        "features": json.dumps(features, default=str),
        "logged_at": now,
        "date": now.date().isoformat(),  # the log's partition: the day it was answered
    }
