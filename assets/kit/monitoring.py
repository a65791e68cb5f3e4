"""Champion → batch predictions → drift against the profile saved with the model, and live
performance on the outcomes known since; an alert from either asks for a retraining.

A snapshot is scored and judged whole. A daily feed is monitored a day at a time, as the day
lands: its rows scored by the champion of that day, drift over the trailing days' scores, and
the champion's live ROC-AUC over the trailing days' labelled rows it did not train on."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd

from assets.kit.alerts import (
    LIVE_CHECK,
    LiveVerdict,
    drift_alerts,
    judge_live_roc_auc,
    score_table,
)
from assets.kit.candidates import TRAINED_THROUGH
from assets.kit.data import partition_day, partitions, read_rows, validated_rows, write_rows
from assets.kit.features import label_sql
from assets.metadata import materialized, table
from flightpath.monitoring.drift import window_drift
from flightpath.monitoring.profile import SCORE
from flightpath.usecase import TRAINING_TIME, UseCase
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource
from resources.monitoring import MonitoringPolicy

DRIFT_CHECK = "no_drift"


def _champion(usecase: UseCase, model_registry: ModelRegistryResource) -> str:
    tag = model_registry.registry().alias(usecase.champion_alias)
    if tag is None:
        raise ValueError(f"no champion yet: `{usecase.champion_alias}` points at no model")
    return tag


def _trailing(day: date, policy: MonitoringPolicy) -> tuple[date, date]:
    return day - timedelta(days=policy.trailing_days - 1), day


def _scored(usecase: UseCase, lake: Lake, day: date | None, policy: MonitoringPolicy) -> str:
    """The scored rows drift reads: the snapshot's, or the feed's trailing days'."""
    batch = usecase.table("batch_predictions")
    if day is None:
        return f"read_parquet('{lake.table_path(batch)}')"
    return lake.scan_days(batch, *_trailing(day, policy))


def _held_out_rows(usecase: UseCase, lake: Lake, scored: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A snapshot's scored rows that the training set kept out of training, with their label."""
    labelled = lake.read_table(usecase.table("training_set"))
    # The windows of the whole training set (a time split's cuts depend on all of it).
    held_out = labelled[usecase.windows(labelled) != "train"]
    rows = scored.merge(held_out[[usecase.entity, usecase.label]], on=usecase.entity)
    return rows.rename(columns={usecase.label: "label"}), "the held-out rows"


def _live_rows(
    usecase: UseCase, lake: Lake, day: date, tag: str, trained_through: str | None,
    policy: MonitoringPolicy,
) -> tuple[pd.DataFrame, str, pd.DataFrame]:  # fmt: skip
    """The champion's rows of the trailing days that are later than anything it trained on,
    and the feed's day scored and labelled (kept as the day's partition)."""
    validated = validated_rows(usecase, lake, day)
    batch = lake.partition_path(usecase.table("batch_predictions"), day)
    day_rows = lake.query(
        f"""
        SELECT b.{usecase.entity}, b.model, b.{SCORE} AS probability,
               l.{usecase.label} AS label, l.{TRAINING_TIME}
        FROM read_parquet('{batch}') b JOIN ({label_sql(usecase, validated)}) l
        USING ({usecase.entity})
        WHERE l.{usecase.label} IS NOT NULL
        ORDER BY b.{usecase.entity}
        """
    )
    lake.write_partition(usecase.table("live_performance"), day, day_rows)
    first, last = _trailing(day, policy)
    since = f"AND {TRAINING_TIME} > TIMESTAMPTZ '{trained_through}'" if trained_through else ""
    rows = lake.query(
        f"SELECT date, label, probability FROM "
        f"{lake.scan_days(usecase.table('live_performance'), first, last)} "
        f"WHERE model = $tag {since}",
        {"tag": tag},
    )
    return rows, f"{first} .. {last}", day_rows


def _answer_columns(usecase: UseCase) -> list[str]:
    """A labelled answer: whose, by which model in which role, its probability and outcome."""
    return [usecase.entity, "model", "role", "probability", "label"]


def _served(usecase: UseCase, lake: Lake, labelled: pd.DataFrame) -> pd.DataFrame:
    """The service's answers to the labelled entities (its prediction log: champion, canary,
    shadow), the last per entity, model and role, with their labels."""
    log = lake.path(usecase.table("prediction_log"))
    columns = _answer_columns(usecase)
    if not any(log.glob("date=*/*.parquet")):
        return pd.DataFrame(columns=columns)
    return lake.query(
        f"""
        SELECT s.{usecase.entity}, s.model, s.role, s.probability, l.label
        FROM (SELECT {usecase.entity}, model, role, probability
              FROM read_parquet('{log}/date=*/*.parquet', union_by_name = true)
              QUALIFY row_number() OVER (PARTITION BY {usecase.entity}, model, role
                                         ORDER BY logged_at DESC) = 1) s
        JOIN labelled l USING ({usecase.entity})
        """,
        frames={"labelled": labelled[[usecase.entity, "label"]]},
    )[columns]


def _by_model(usecase: UseCase, lake: Lake, labelled: pd.DataFrame) -> dg.TableMetadataValue:
    """ROC-AUC and the other scores per model and role: the batch's and the service's answers
    to the same labelled entities."""
    rows = labelled.assign(role="batch")[_answer_columns(usecase)]
    served = _served(usecase, lake, labelled)
    if len(served):
        rows = pd.concat([rows, served], ignore_index=True)
    return table(score_table(rows) if len(rows) else pd.DataFrame({"model": [], "role": []}))


def _partial_window(days: int | None, policy: MonitoringPolicy, what: str) -> str | None:
    """Why a feed's window is not judged yet: fewer of its days hold rows than the policy's
    trailing days (`days` None: a snapshot, always judged). A partial window's few hundred rows
    give noise, not news: PSI over a column of many values, or a ROC-AUC whose standard error
    is the size of the alarm's margin, crosses the threshold on its own."""
    if days is None or days >= policy.trailing_days:
        return None
    return f"not judged yet: {days} of the window's {policy.trailing_days} days {what}"


def monitoring_assets(usecase: UseCase) -> list[dg.AssetsDefinition]:
    batch_key = dg.AssetKey(usecase.key("batch_predictions"))
    drift_key = dg.AssetKey(usecase.key("drift"))
    live_key = dg.AssetKey(usecase.key("live_performance"))
    days = partitions(usecase)
    features = usecase.table("features")

    @dg.asset(
        key=batch_key,
        deps=[usecase.key("features"), usecase.key("champion")],
        group_name=usecase.group,
        partitions_def=days,
        description="Every entity's latest features (a feed: the day's rows) scored by the "
        "champion.",
        kinds={"bentoml", "parquet"},
    )
    def batch_predictions(
        context: dg.AssetExecutionContext, lake: Lake, model_registry: ModelRegistryResource
    ) -> dg.MaterializeResult:
        day = partition_day(context)
        tag = _champion(usecase, model_registry)
        model = model_registry.registry().load(tag)
        frame = read_rows(lake, features, day)
        frame[SCORE] = model.predict(model.spec.matrix(frame))
        frame = frame.assign(model=tag, scored_at=datetime.now(UTC))
        path = write_rows(lake, usecase.table("batch_predictions"), day, frame)
        return materialized(frame, path, metadata={"model": tag})

    @dg.asset(
        key=drift_key,
        deps=[batch_key],
        group_name=usecase.group,
        partitions_def=days,
        check_specs=[dg.AssetCheckSpec(DRIFT_CHECK, asset=drift_key, description="No feature, "
                     "and not the score, has a PSI over the monitoring policy's threshold.",
                     partitions_def=days)],
        description="PSI and KS / chi-square of the scored rows' features (a feed: the trailing "
        "days') and scores against the champion's training rows and test scores (the profile "
        "saved with it).",
        kinds={"duckdb"},
    )  # fmt: skip
    def drift(
        context: dg.AssetExecutionContext,
        lake: Lake,
        model_registry: ModelRegistryResource,
        monitoring: MonitoringPolicy,
    ) -> dg.MaterializeResult:
        day = partition_day(context)
        tag = _champion(usecase, model_registry)
        profile = model_registry.registry().drift_profile(tag)
        if profile is None:
            raise ValueError("the champion was saved without a drift profile: retrain it")
        scored = _scored(usecase, lake, day, monitoring)
        with lake.connect() as connection:
            stats = window_drift(profile, connection, scored, list(usecase.numeric),
                                 list(usecase.categorical), tag)  # fmt: skip
        alerts = drift_alerts(stats, SCORE, monitoring)
        summary = "; ".join(alerts) or "no drift"
        counted = f"SELECT count(DISTINCT date) AS n FROM {scored}"
        waiting = _partial_window(
            None if day is None else int(lake.query(counted)["n"].iloc[0]), monitoring, "scored"
        )
        if waiting is not None:
            alerts, summary = [], f"{waiting} (it would say: {summary})"
        window = {} if day is None else {"window": "{} .. {}".format(*_trailing(day, monitoring))}
        return dg.MaterializeResult(
            metadata={
                "reference_model": tag,
                **window,
                "drift": table(pd.DataFrame([s.to_dict() for s in stats])),
                "alerts": dg.MetadataValue.json(alerts),
                "summary": summary,
                **{f"psi/{s.feature}": s.psi for s in stats},
            },
            check_results=[
                dg.AssetCheckResult(check_name=DRIFT_CHECK, passed=not alerts, description=summary)
            ],
        )

    @dg.asset(
        key=live_key,
        deps=[batch_key, usecase.key("validated")],
        group_name=usecase.group,
        partitions_def=days,
        check_specs=[dg.AssetCheckSpec(LIVE_CHECK, asset=live_key, description="The champion's "
                     "ROC-AUC on outcomes known since scoring holds to its test ROC-AUC.",
                     partitions_def=days)],
        description="The champion's batch scores against the outcomes now known, leaving out "
        "the rows it trained on (a feed: over the trailing days); and per model and role, the "
        "batch's and the service's answers (champion, canary, shadow) to the same rows.",
        kinds={"duckdb"},
    )  # fmt: skip
    def live_performance(
        context: dg.AssetExecutionContext,
        lake: Lake,
        model_registry: ModelRegistryResource,
        monitoring: MonitoringPolicy,
    ) -> dg.MaterializeResult:
        day = partition_day(context)
        tag = _champion(usecase, model_registry)
        metadata = model_registry.registry().metadata(tag)
        tested = metadata["metrics"]["test"]["roc_auc"]
        if day is None:
            scored = lake.read_table(usecase.table("batch_predictions"))
            rows, window = _held_out_rows(usecase, lake, scored)
            labelled, waiting = rows, None
        else:
            trained_through = metadata.get(TRAINED_THROUGH)
            rows, window, labelled = _live_rows(usecase, lake, day, tag, trained_through,
                                                monitoring)  # fmt: skip
            waiting = _partial_window(rows["date"].nunique(), monitoring, "labelled")
        verdict = (
            LiveVerdict(None, [], f"{waiting} ({len(rows)} labelled champion rows in {window})")
            if waiting is not None
            # Judged from a gate slice's minimum: the use case's own sense of enough rows.
            else judge_live_roc_auc(rows, tested, monitoring, window,
                                    min_labelled=usecase.slice_min_rows)
        )  # fmt: skip
        return dg.MaterializeResult(
            metadata={
                **({"live_roc_auc": verdict.live} if verdict.live is not None else {}),
                "test_roc_auc": tested,
                "labelled_rows": len(rows),
                "alerts": dg.MetadataValue.json(verdict.alerts),
                "summary": verdict.summary,
                "by_model": _by_model(usecase, lake, labelled),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=LIVE_CHECK, passed=not verdict.alerts, description=verdict.summary
                )
            ],
        )

    return [batch_predictions, drift, live_performance]
