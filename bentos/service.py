"""`flight_delay`: the champion's probability of a late arrival, from fresh features.

    FLIGHTPATH_HOME=.flightpath FLIGHTPATH_API_KEYS=k1,k2 bentoml serve bentos.service:DelayService

Environment: FLIGHTPATH_HOME (data home: model registry, Feast store, prediction log),
FLIGHTPATH_FEAST_PROFILE (feature_store.yaml or the production profile), FLIGHTPATH_FEAST_PROJECT
(overrides the profile's project), FLIGHTPATH_API_KEYS / FLIGHTPATH_AUTH=off (no keys: without
either it refuses to start), FLIGHTPATH_RATE_LIMIT (requests/s per key), FLIGHTPATH_THRESHOLD (0.5),
FLIGHTPATH_CANARY_FRACTION (share of flights the challenger answers, sticky per flight; 0),
FLIGHTPATH_MAX_FEATURE_AGE_HOURS (features older than this at the departure are `stale`; 48),
FLIGHTPATH_SHADOW_QUEUE_ROWS (rows waiting for the challenger's shadow scoring before more are
dropped and counted; 10000), FLIGHTPATH_WORKERS (API worker processes; the usable CPU cores),
FLIGHTPATH_FEED_START / _END / _TIMEZONE / _ORIGINS (the feed's calendar and airports, which bound
the departures it answers for: `flightpath.feed_calendar`).
"""

from __future__ import annotations

import gc
import json
import math
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import bentoml
import numpy as np
from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from bentos.canary import canary_fraction, is_canary
from bentos.champion import ChampionWatcher, Refusal, Served
from bentos.client_errors import log_client_errors_as_info
from bentos.error_body import OneErrorShape
from bentos.guard import ApiKeyGuard
from bentos.http_settings import http_settings
from bentos.limits import BodyLimit
from bentos.metrics import service_metrics
from bentos.openapi import PublishedSpec
from bentos.prediction_log import PredictionLog
from bentos.schema import MAX_FLIGHTS, Flight, Prediction, Predictions
from bentos.shadow import ShadowQueue, ShadowRow, shadow_log_rows, shadow_queue_rows
from bentos.staleness import ages_at_departure, max_feature_age_hours, stale_views
from bentos.store_guard import StoreUnreachable
from bentos.third_party_warnings import hide_third_party_deprecations
from bentos.view_rows import VIEWS, ViewRow
from bentos.workers import api_workers
from feature_repo.store import open_store
from feature_repo.transforms import schedule_context_of
from flightpath.api_keys import api_keys_from_env
from flightpath.feed_calendar import FEED
from flightpath.keys import flight_id
from flightpath.models.registry import ModelRegistry
from flightpath.storage import lake_location, location

TOP_CONTRIBUTIONS = 5
# After the imports (one of them puts a "once" filter for deprecations in front of any
# earlier one), before BentoML builds the service below.
hide_third_party_deprecations()


@bentoml.service(name="flight_delay", **http_settings())
class DelayService:
    def __init__(self) -> None:
        log_client_errors_as_info()
        self.metrics = service_metrics()
        home = _home()
        profile = os.environ.get("FLIGHTPATH_FEAST_PROFILE", "feature_store.yaml")
        self.threshold = float(os.environ.get("FLIGHTPATH_THRESHOLD", "0.5"))
        self.canary = canary_fraction()
        self.max_feature_age_hours = max_feature_age_hours()
        self.models = ChampionWatcher(
            ModelRegistry(home / "bentoml"), on_refusal=self._report_refusal
        )
        project = os.environ.get("FLIGHTPATH_FEAST_PROJECT") or None
        from bentos.online import OnlineFeatures  # Feast: in the worker only (view_rows.py)

        self.features = OnlineFeatures(open_store(str(home), profile, project))
        # The lake's prediction_log: under the home, or in the bucket in the production profile.
        self.log = PredictionLog(location(lake_location(home)) / "prediction_log")
        self.shadow: ShadowQueue[ShadowRow] = ShadowQueue(
            self._shadow,
            on_drop=lambda reason, n: self.metrics.shadow_dropped.labels(reason=reason).inc(n),
            capacity=shadow_queue_rows(),
        )
        # The models, Feast and pandas leave ~1M long-lived objects; frozen, full collections
        # skip them (they paused requests for ~200 ms under load).
        gc.freeze()

    @bentoml.on_deployment
    def refuse_to_start() -> None:
        """In `bentoml serve`'s own process, before any worker: no keys, or no champion that
        verifies, and there is no service (rather than workers that crash-loop)."""
        api_keys_from_env()
        max_feature_age_hours()
        api_workers()
        shadow_queue_rows()
        canary_fraction()
        ChampionWatcher(ModelRegistry(_home() / "bentoml"), poll_seconds=3600).close()

    @bentoml.api(route="/predict")
    def predict(
        self,
        flights: Annotated[list[Flight], Field(min_length=1, max_length=MAX_FLIGHTS)],
        explain: bool = False,
    ) -> Predictions:
        """Probability of a late arrival (see `probability`), per flight (1 to 500 flights)."""
        lineup = self.models.lineup  # one lineup per request, even if a swap happens meanwhile
        _refuse_unknown_destinations(flights, lineup.champion)
        request_id = uuid.uuid4().hex
        records, as_of, missing, ages, stale = self._features(flights)
        ids = [
            flight_id(f.carrier, f.flight, f.origin, f.sched_dep.astimezone(UTC)) for f in flights
        ]
        canary = (
            [is_canary(i, self.canary) for i in ids] if lineup.challenger else [False] * len(ids)
        )
        answered: list[Prediction | None] = [None] * len(flights)
        logged: list[dict[str, Any]] = []
        shadowed: list[ShadowRow] = []
        for role, served in (("champion", lineup.champion), ("canary", lineup.challenger)):
            chosen = [i for i, c in enumerate(canary) if c == (role == "canary")]
            if not chosen or served is None:
                continue
            matrix = served.model.spec.rows([records[i] for i in chosen])
            probabilities = _predict(served, matrix)
            contributions = _top_contributions(served, matrix) if explain else None
            for k, i in enumerate(chosen):
                answered[i] = Prediction(
                    flight_id=ids[i], probability=float(probabilities[k]),
                    delayed=bool(probabilities[k] >= self.threshold), model=served.tag, role=role,
                    features_as_of=as_of[i], degraded=bool(missing[i]), missing=missing[i],
                    features_age_hours=ages[i], stale=bool(stale[i]), stale_views=sorted(stale[i]),
                    contributions=contributions[k] if contributions else None,
                )  # fmt: skip
                logged.append(_log_row(request_id, ids[i], flights[i], served.tag, role,
                                       probabilities[k], records[i], missing[i], ages[i],
                                       stale[i]))  # fmt: skip
                if role == "champion" and lineup.challenger is not None:
                    shadowed.append(ShadowRow(lineup.challenger, records[i], logged[-1],
                                              served.model.spec, matrix[k]))  # fmt: skip
            self.metrics.predictions.labels(role=role).inc(len(chosen))
        self.log.append(logged)
        if shadowed:  # queued, never waited for
            self.shadow.offer(shadowed)
        return Predictions(
            request_id=request_id,
            threshold=self.threshold,
            predictions=[p for p in answered if p is not None],
        )

    def __is_ready__(self) -> bool:
        return self.features.reachable()

    @bentoml.on_shutdown
    def close(self) -> None:
        self.shadow.close()  # its rows reach the log's last flush
        self.models.close()
        self.log.close()

    def _report_refusal(self, refusal: Refusal, active: bool) -> None:
        self.metrics.model_refused.labels(alias=refusal.alias, tag=refusal.tag).set(int(active))

    def _features(self, flights: list[Flight]) -> tuple[
        list[dict[str, Any]], list[dict[str, str | None]], list[list[str]],
        list[dict[str, float | None]], list[dict[str, str]],
    ]:  # fmt: skip
        """Each flight's model inputs, when each view was computed, what fell back, how old
        each view is at the departure, and which views are stale (and why)."""
        keys = [{"origin": f.origin, "carrier": f.carrier, "route": f"{f.origin}-{f.dest}",
                 "tailnum": f.tailnum} for f in flights]  # fmt: skip
        try:
            rows = self.features.read(keys)
        except StoreUnreachable as outage:  # answer without the store's features
            self.metrics.degraded.labels(reason=outage.reason).inc(len(flights))
            rows = [{name: ViewRow({}, None) for name in VIEWS} for _ in flights]
        context = [
            schedule_context_of(f.sched_dep.astimezone(UTC),
                                r["aircraft"].values.get("tail_prev_arrival_utc"))
            for f, r in zip(flights, rows, strict=True)
        ]  # fmt: skip
        records, as_of, missing, ages, stale = [], [], [], [], []
        for flight, row, extra in zip(flights, rows, context, strict=True):
            record: dict[str, Any] = {"carrier": flight.carrier, "origin": flight.origin,
                                      "dest": flight.dest}  # fmt: skip
            absent: list[str] = []
            for name in VIEWS:
                record.update(row[name].values)
                if row[name].as_of is None:
                    absent += self.features.columns[name]
            record.update({k: None if _is_nan(v) else v for k, v in extra.items()})
            if absent:
                self.metrics.degraded.labels(reason="no_online_row").inc()
            age = ages_at_departure(flight.sched_dep, {name: row[name].as_of for name in VIEWS})
            late = stale_views(age, self.max_feature_age_hours)
            for reason in set(late.values()):
                self.metrics.stale.labels(reason=reason).inc()
            records.append(record)
            as_of.append({name: _iso(row[name].as_of) for name in VIEWS})
            missing.append(absent)
            ages.append(age)
            stale.append(late)
        return records, as_of, missing, ages, stale

    def _shadow(self, rows: list[ShadowRow]) -> None:
        """The challenger scores a batch of flights the champion answered (ShadowQueue's thread)."""
        now = datetime.now(UTC)

        def answered(tag: str, probability: float) -> dict[str, Any]:
            return {"model": tag, "role": "shadow", "probability": probability, "logged_at": now}

        self.log.append(shadow_log_rows(rows, _predict, answered))


# `@bentoml.service` returns a Service object; mypy still sees the class.
# In this order: a request without a key is refused before its body is read.
DelayService.add_asgi_middleware(ApiKeyGuard)  # type: ignore[attr-defined]
DelayService.add_asgi_middleware(BodyLimit)  # type: ignore[attr-defined]
DelayService.add_asgi_middleware(PublishedSpec, service=DelayService)  # type: ignore[attr-defined]
DelayService.add_asgi_middleware(OneErrorShape)  # type: ignore[attr-defined]


def _refuse_unknown_destinations(flights: list[Flight], champion: Served) -> None:
    """A 400 naming each flight whose destination the champion never saw in training."""
    known = set(champion.model.spec.vocabularies.get("dest", []))
    errors = [
        InitErrorDetails(
            type=PydanticCustomError(
                "unknown_destination",
                "destination {dest} is not among the {count} the model was trained on",
                {"dest": f.dest, "count": len(known)},
            ),
            loc=("flights", i, "dest"),
            input=f.dest,
        )
        for i, f in enumerate(flights)
        if f.dest not in known
    ]
    if errors:  # raised as validation is: BentoML answers it, and it is logged, the same way
        raise ValidationError.from_exception_data("Input", errors)


def _home() -> Path:
    return Path(os.environ.get("FLIGHTPATH_HOME", ".flightpath")).resolve()


def _predict(served: Served, matrix: np.ndarray) -> np.ndarray:
    model: Any = served.model
    if hasattr(model, "booster"):  # LightGBM: one thread for a request's few rows
        return model.predict(matrix, num_threads=1)
    return model.predict(matrix)


def _top_contributions(served: Served, matrix: np.ndarray) -> list[dict[str, float]] | None:
    model: Any = served.model
    if not hasattr(model, "contributions"):
        return None
    names = model.spec.features
    top = []
    for row in model.contributions(matrix)[:, :-1]:  # the last column is the bias
        order = np.argsort(-np.abs(row))[:TOP_CONTRIBUTIONS]
        top.append({names[j]: round(float(row[j]), 4) for j in order})
    return top


def _log_row(request_id: str, key: str, flight: Flight, tag: str, role: str, probability: Any,
             record: dict[str, Any], missing: list[str], ages: dict[str, float | None],
             stale: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """A logged prediction, with what its answer said about its features' staleness."""
    departure = flight.sched_dep.astimezone(UTC)
    return {
        "request_id": request_id,
        "flight_id": key,
        "model": tag,
        "role": role,
        "probability": float(probability),
        "sched_dep_utc": departure,
        "logged_at": datetime.now(UTC),
        "degraded": bool(missing),
        "stale": bool(stale),
        # As the answer has them; JSON, as `features`, so every file has the same columns.
        "stale_views": json.dumps(sorted(stale)),
        "features_age_hours": json.dumps(ages),
        "features": json.dumps(record, default=str),
        "date": departure.astimezone(FEED.zone).date().isoformat(),
    }


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
