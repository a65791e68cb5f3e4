"""Serving: the service's bento with the champion, and the day's flights scored in bulk."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml

from assets import groups
from assets.metadata import materialized
from assets.models.promotion import champion
from assets.partitions import daily_partitions, partition_day
from flightpath.entity_views import TRAINING_SERVICE
from flightpath.models.features import FEATURES
from flightpath.models.registry import CHAMPION
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.model_registry import ModelRegistryResource

GROUP = groups.SERVING
ROOT = Path(__file__).resolve().parent.parent
BENTOFILE = ROOT / "bentos" / "bentofile.yaml"
THRESHOLD = 0.5  # the service's default FLIGHTPATH_THRESHOLD


@dg.asset(
    group_name=GROUP,
    deps=[champion],
    description="`bentoml build` of bentos/ with the champion model inside: what a Kubernetes "
    "Deployment runs. The running service also follows the alias without a rebuild.",
    kinds={"bentoml"},
)
def delay_service_bento(model_registry: ModelRegistryResource) -> dg.MaterializeResult:
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    if tag is None:
        raise ValueError("no champion to package: materialise `champion` first")
    spec = yaml.safe_load(BENTOFILE.read_text())
    spec["models"] = [tag]
    spec["labels"]["champion"] = tag.replace(":", "-")  # label values allow no colon
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=BENTOFILE.parent) as bentofile:
        yaml.safe_dump(spec, bentofile)
        bentofile.flush()
        built = subprocess.run(
            [str(Path(sys.executable).parent / "bentoml"), "build", "-f", bentofile.name,
             "-o", "tag", str(ROOT)],
            env={**os.environ, "BENTOML_HOME": str(registry.root)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"bentoml build failed:\n{built.stderr[-3000:]}")
    bento = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    return dg.MaterializeResult(
        metadata={"bento": bento, "champion": tag, "bentoml_home": str(registry.root),
                  "serve": f"BENTOML_HOME={registry.root} bentoml serve {bento}"},
        data_version=dg.DataVersion(bento),
    )  # fmt: skip


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    deps=["flight_features", champion],
    description="Every scheduled flight of the day scored by the champion, with the features "
    "training used (the `delay_model_training` service, point-in-time through Feast), kept "
    "beside each score for drift monitoring.",
    kinds={"feast", "parquet"},
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    lake: Lake,
    feature_store: FeatureStoreResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    day = partition_day(context)
    registry = model_registry.registry()
    tag = registry.alias(CHAMPION)
    if tag is None:
        raise ValueError("no champion to score with: materialise `champion` first")
    flights = lake.query(
        f"""
        SELECT flight_id, sched_dep_utc AS event_timestamp, sched_dep_utc
        FROM {lake.scan("flights")} WHERE date = $day ORDER BY sched_dep_utc, flight_id
        """,
        {"day": day},
    )
    store = feature_store.store()
    frame = store.get_historical_features(
        entity_df=flights, features=store.get_feature_service(TRAINING_SERVICE)
    ).to_df()
    model = registry.load(tag)
    probability = model.predict(model.spec.matrix(frame))
    scored = pd.DataFrame({
        "flight_id": frame["flight_id"], "sched_dep_utc": frame["sched_dep_utc"],
        "probability": probability, "delayed": probability >= THRESHOLD,
        "model": tag, **{name: frame[name] for name in FEATURES},
    }).sort_values(["sched_dep_utc", "flight_id"]).reset_index(drop=True)  # fmt: skip
    path = lake.write_partition("batch_predictions", day, scored)
    return materialized(
        scored,
        path,
        metadata={
            "model": tag,
            "mean_probability": float(scored["probability"].mean()) if len(scored) else 0.0,
            "predicted_delayed": int(scored["delayed"].sum()),
        },
    )
