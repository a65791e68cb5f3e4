"""`flightpath lineage REF`: from a prediction (or a model) back to the data and code behind it.

A reference is a request id from the prediction log (a prefix of at least 6 hex digits will
do), a model tag `name:version` (or a bare name: its latest version), or an alias (`champion`,
`challenger`; a use case's `<name>/champion`, `<name>/challenger`, read from its own log). Each
model resolves to its chain: the Dagster run that trained it, the training set (its run, data
version, window and the feature partitions it read, each by content version), the feature
service, the code version, the split, the test metrics and the alias changes that involved it.
Everything is read from what training saved with the model; the Dagster instance, when given,
adds what it knows about the runs (job, status, times, tags).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bentoml.exceptions import BentoMLException

from flightpath.models.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError
from flightpath.run_tags import REASON
from flightpath.storage import is_remote, lake_location, location, object_storage
from flightpath.training_partitions import Partitions
from flightpath.usecase import UseCase

if TYPE_CHECKING:
    import dagster as dg

ROLE_ORDER = ("champion", "canary", "shadow")
_REQUEST_ID = re.compile(r"[0-9a-f]{6,32}")
_TEST_METRICS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"), ("ece", "ECE"))


class LineageError(LookupError):
    """A reference that names no request, model or alias (the message says which was tried)."""


@dataclass(frozen=True)
class RunInfo:
    """A Dagster run: its id always; the rest only when the instance knows it."""

    run_id: str
    found: bool = False
    job: str | None = None
    status: str | None = None
    started: str | None = None
    ended: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def retrain_reason(self) -> str | None:
        return self.tags.get(REASON)


@dataclass(frozen=True)
class TrainingSet:
    run: RunInfo | None
    data_version: str | None
    window: str | None
    rows: int | None
    partitions: Partitions


@dataclass(frozen=True)
class AliasEvent:
    at: str
    action: str
    alias: str
    tag: str | None
    previous: str | None
    reason: str
    actor: str = "unknown"  # who (registry.AliasChange.actor)


@dataclass(frozen=True)
class ModelLineage:
    tag: str
    found: bool = True  # False: the log names a model the registry no longer has
    framework: str | None = None
    created: str | None = None
    aliases: list[str] = field(default_factory=list)  # the aliases that point at it now
    training_run: RunInfo | None = None
    training_set: TrainingSet | None = None
    feature_service: str | None = None
    code_version: dict[str, str] = field(default_factory=dict)
    split: dict[str, str] = field(default_factory=dict)
    test_metrics: dict[str, float] = field(default_factory=dict)
    alias_history: list[AliasEvent] = field(default_factory=list)


@dataclass(frozen=True)
class LoggedPrediction:
    """One entity answered in a request (a flight, an application), as the service logged it."""

    key: str  # the flight id, or the use case's entity id
    model: str
    role: str
    probability: float
    logged_at: str
    sched_dep_utc: str = ""  # flights only
    degraded: bool = False  # flights only: answered without some of the store's features


@dataclass(frozen=True)
class LogSource:
    """Which service's prediction log to read (`bentos.prediction_log` writes it): its table,
    what keys its rows, and the aliases that service serves."""

    table: str
    key: str
    aliases: tuple[str, str]
    flights: bool = False  # the flights log also has departures and degraded answers


FLIGHTS_LOG = LogSource("prediction_log", "flight_id", (CHAMPION, CHALLENGER), flights=True)


def usecase_log(usecase: UseCase) -> LogSource:
    return LogSource(usecase.table("prediction_log"), usecase.entity,
                         (usecase.champion_alias, usecase.challenger_alias))  # fmt: skip


@dataclass(frozen=True)
class Request:
    request_id: str
    predictions: list[LoggedPrediction]


@dataclass(frozen=True)
class Lineage:
    ref: str
    kind: str  # request | model | alias
    models: list[ModelLineage]
    request: Request | None = None
    alias: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for model, traced in zip(out["models"], self.models, strict=True):
            if traced.training_set is not None:
                model["training_set"]["partitions"] = traced.training_set.partitions.as_dict()
            if traced.training_run is not None:
                model["training_run"]["retrain_reason"] = traced.training_run.retrain_reason
        return out


def trace(
    home: Path, instance: dg.DagsterInstance | None, ref: str, log: LogSource = FLIGHTS_LOG
) -> Lineage:
    """Resolve `ref` in the data home `home` (see the module docstring); LineageError if unknown.
    `log` says whose requests: the flights service's, or a use case's (`usecase_log`)."""
    from flightpath.home import bentoml_home

    registry = ModelRegistry(bentoml_home(home))
    ref = ref.strip()
    if ref in log.aliases or ref in registry.aliases():
        tag = registry.alias(ref)
        if tag is None:
            raise LineageError(f"alias {ref!r} points at no model yet: train and promote first")
        return Lineage(ref, "alias", [_model(registry, instance, tag)], alias=ref)
    if ":" not in ref and _REQUEST_ID.fullmatch(ref):
        request = _request(home, ref, log)
        tags = list(dict.fromkeys(p.model for p in request.predictions))  # champion first
        return Lineage(ref, "request", [_model(registry, instance, t) for t in tags], request)
    try:
        tag = str(registry.get(ref).tag)  # `name:version`, `name:latest` or a bare name
    except (RegistryError, ValueError, BentoMLException) as error:  # unknown, or not a tag
        raise LineageError(
            f"{ref!r} is not a request id, a model tag (name:version) or an alias "
            f"({', '.join(sorted({*log.aliases, *registry.aliases()}))}) "
            f"in {home}"
        ) from error
    return Lineage(ref, "model", [_model(registry, instance, tag)])


def _role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def _request(home: Path, ref: str, spec: LogSource) -> Request:
    import duckdb

    log = location(lake_location(home)) / spec.table
    if not any(log.glob("date=*/*.parquet")):
        raise LineageError(f"no request {ref}: the prediction log {log} is empty")
    flights = ", sched_dep_utc, degraded" if spec.flights else ""
    with duckdb.connect() as connection:
        if is_remote(str(log)):
            connection.register_filesystem(object_storage())
        rows = connection.execute(
            f"""SELECT request_id, CAST({spec.key} AS VARCHAR) AS key, model, role, probability,
                       logged_at{flights}
               FROM read_parquet($files, hive_partitioning = true, union_by_name = true)
               WHERE starts_with(request_id, $ref)
               ORDER BY request_id, logged_at, key""",
            {"files": str(log / "date=*" / "*.parquet"), "ref": ref},
        ).fetchall()
    ids = sorted({row[0] for row in rows})
    if not ids:
        raise LineageError(
            f"no request {ref} in the prediction log {log} (the service writes it every few "
            "seconds and at shutdown: a request just answered may not be there yet)"
        )
    if len(ids) > 1:
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise LineageError(f"{ref} is the start of {len(ids)} request ids ({shown}): give more")
    predictions = [
        LoggedPrediction(str(key), str(model), str(role), float(p), _iso(at),
                         *((_iso(flight[0]), bool(flight[1])) if flight else ()))
        for _, key, model, role, p, at, *flight in rows
    ]  # fmt: skip
    predictions.sort(key=lambda p: (_role_rank(p.role), p.sched_dep_utc, p.key))
    return Request(ids[0], predictions)


def _model(registry: ModelRegistry, instance: dg.DagsterInstance | None, tag: str) -> ModelLineage:
    history = [
        AliasEvent(**asdict(change))
        for change in registry.history()
        if tag in (change.tag, change.previous)
    ]
    try:
        model = registry.get(tag)
    except RegistryError:
        return ModelLineage(tag, found=False, alias_history=history)
    metadata: dict[str, Any] = dict(model.info.metadata)
    lineage: dict[str, Any] = dict(metadata.get("training_set") or {})
    run_id = metadata.get("dagster_run_id")
    set_run = lineage.get("run_id")
    rows = lineage.get("rows")
    return ModelLineage(
        tag=str(model.tag),
        framework=model.info.labels.get("framework"),
        created=_iso(model.info.creation_time),
        aliases=sorted(a for a, stack in registry.aliases().items() if stack and stack[-1] == tag),
        training_run=_run(instance, str(run_id)) if run_id else None,
        training_set=TrainingSet(
            run=_run(instance, str(set_run)) if set_run else None,
            data_version=lineage.get("data_version"),
            window=lineage.get("window"),
            rows=int(rows) if rows is not None else None,
            partitions=Partitions(
                {str(d): str(v) for d, v in (lineage.get("feature_partitions") or {}).items()}
            ),
        )
        if lineage
        else None,
        feature_service=metadata.get("feature_service"),
        code_version={str(k): str(v) for k, v in (metadata.get("code_version") or {}).items()},
        split={str(k): str(v) for k, v in (metadata.get("split") or {}).items()},
        test_metrics={
            str(k): float(v) for k, v in (metadata.get("metrics") or {}).get("test", {}).items()
        },
        alias_history=history,
    )


def _run(instance: dg.DagsterInstance | None, run_id: str) -> RunInfo:
    record = instance.get_run_record_by_id(run_id) if instance is not None else None
    if record is None:
        return RunInfo(run_id)
    run = record.dagster_run
    return RunInfo(
        run_id=run_id,
        found=True,
        job=run.job_name,
        status=run.status.value,
        started=_iso(record.start_time),
        ended=_iso(record.end_time),
        tags={str(k): str(v) for k, v in run.tags.items()},
    )


def _iso(moment: Any) -> str:
    """ISO 8601 in UTC for datetimes, pandas timestamps and epoch seconds; '' for nothing."""
    if moment is None:
        return ""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.isoformat(timespec="seconds")
    return str(moment)


# --- rendering ---


def render(lineage: Lineage, partitions: bool = False) -> str:
    """The chain as a few indented lines; every partition's version only with `partitions`."""
    lines: list[str] = []
    if lineage.request is not None:
        request = lineage.request
        lines.append(f"request {request.request_id}: {len(request.predictions)} predictions")
        for p in request.predictions:
            degraded = "  degraded" if p.degraded else ""
            lines.append(f"  {p.key}  {p.role:8} {p.model}  p={p.probability:.3f}"
                         f"  logged {p.logged_at}{degraded}")  # fmt: skip
        lines.append("")
    elif lineage.alias is not None:
        lines.append(f"{lineage.alias} -> {lineage.models[0].tag}")
    for model in lineage.models:
        lines.extend(_render_model(model, partitions))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _render_model(model: ModelLineage, partitions: bool) -> list[str]:
    if not model.found:
        return [f"model {model.tag}: no longer in the model registry", *_history(model)]
    aliases = f"  [{', '.join(model.aliases)}]" if model.aliases else ""
    lines = [f"model {model.tag}  ({model.framework}, created {model.created}){aliases}"]
    if model.training_run is not None:
        lines.append(f"  <- trained by run {_describe_run(model.training_run)}")
        lines.extend(f"       {line}" for line in _run_tags(model.training_run))
    else:
        lines.append("  <- trained by run: not recorded")
    training_set = model.training_set
    if training_set is None:
        lines.append("     <- training set: not recorded")
    else:
        rows = f"{training_set.rows:,} rows" if training_set.rows is not None else "rows ?"
        window = f", window {training_set.window}" if training_set.window else ""
        lines.append(f"     <- training set {training_set.data_version or '?'}  ({rows}{window})")
        if training_set.run is not None:
            lines.append(f"          built by run {_describe_run(training_set.run)}")
        if training_set.partitions.versions:  # a daily use case's (flights): partitions read
            lines.append(f"        <- flight_features {training_set.partitions.summary()}")
        if partitions:
            versions = sorted(training_set.partitions.versions.items())
            lines.extend(f"             {day}  {version}" for day, version in versions)
    lines.append(f"           <- feature service {model.feature_service or '?'}")
    code = "  ".join(f"{k} {v}" for k, v in model.code_version.items()) or "not recorded"
    lines.append(f"              <- code {code}")
    if "train_end" in model.split:
        s = model.split
        lines.append(f"  split: train {s.get('train_start')}..{s.get('train_end')}, "
                     f"valid ..{s.get('valid_end')}, test ..{s.get('test_end')}")  # fmt: skip
    elif model.split:  # a use case's holdout
        lines.append("  split: " + ", ".join(f"{k} {v}" for k, v in model.split.items()))
    if model.test_metrics:
        metrics = model.test_metrics
        scored = "  ".join(f"{label} {metrics[key]:.4f}" for key, label in _TEST_METRICS
                           if key in metrics)  # fmt: skip
        scored_rows = metrics.get("rows")
        lines.append(f"  test: {scored}" + (f"  ({scored_rows:,.0f} rows)" if scored_rows else ""))
    lines.extend(_history(model))
    return lines


def _history(model: ModelLineage) -> list[str]:
    if not model.alias_history:
        return ["  aliases: never promoted"]
    lines = ["  alias history:"]
    for change in model.alias_history:  # as `flightpath models history` prints them
        lines.append(f"    {change.at}  {change.actor:16} {change.action:8} {change.alias:10} "
                     f"{change.tag}  (was {change.previous})  {change.reason}")  # fmt: skip
    return lines


def _run_tags(run: RunInfo) -> list[str]:
    """Why the run happened: the retrain reason, the sensor or schedule, the user's own tags."""
    lines = [f"retrain reason: {run.retrain_reason}"] if run.retrain_reason else []
    for launcher in ("sensor", "schedule"):
        if f"dagster/{launcher}_name" in run.tags:
            lines.append(f"launched by {launcher} {run.tags[f'dagster/{launcher}_name']}")
    internal = ("dagster/", ".dagster/", REASON)
    own = {k: v for k, v in run.tags.items() if not k.startswith(internal)}
    if own:
        lines.append("tags: " + ", ".join(f"{k}={v}" for k, v in sorted(own.items())))
    return lines


def _describe_run(run: RunInfo) -> str:
    if not run.found:
        return f"{run.run_id}  (not in this Dagster instance)"
    ended = f" .. {run.ended}" if run.ended else ""
    return f"{run.run_id}  {run.job}  {run.status}  {run.started}{ended}"


def to_json(lineage: Lineage) -> str:
    return json.dumps(lineage.as_dict(), indent=1, default=str) + "\n"
