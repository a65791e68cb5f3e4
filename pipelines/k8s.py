"""Pod sizes on Kubernetes, one policy per asset, honoured by the run pod and by step pods.

dagster-k8s 0.29 sizes a run pod from the run's tags only (`K8sRunLauncher` →
`K8sContainerContext.create_for_run(include_run_tags=True)`) and a step pod from the op's tags
plus the executor's `per_step_k8s_config` (`K8sStepHandler._get_container_context`, run tags
excluded). A run launched from an asset selection, a sensor or declarative automation carries
no tag derived from its assets (dagster issues 22865, 33430), so per-asset sizes set on ops
vanish with one pod per run. Here the size is a function of the asset key, and both paths ask it:
the launcher (`pipelines/k8s_launcher.py`) reads which assets a run's execution plan
materialises, whatever created the run; the executor gets the same sizes per op through
`per_step_k8s_config`.

dagster-k8s is imported only where a Kubernetes executor or launcher is built: it adds ~0.8 s
to every load of the code location, and most deployments of it never touch Kubernetes.
"""

import os
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun

# "label=value" of the GPU node pool (e.g. cloud.google.com/gke-nodepool=gpu); unset: no GPU.
GPU_NODE_SELECTOR_ENV = "FLIGHTPATH_K8S_GPU_NODE_SELECTOR"
# "k8s": one pod per step (k8s_job_executor); anything else: steps run inside the run's process.
EXECUTOR_ENV = "FLIGHTPATH_EXECUTOR"


class PodSize(IntEnum):
    """Ordered, so that a run's pod is the largest size among the assets it materialises."""

    SMALL = 1  # ingestion, validation, features, serving, monitoring: a day at a time
    TRAINING = 2  # the full training window in memory
    GPU_TRAINING = 3  # TRAINING on the GPU pool, when one is configured


# Only the torch challenger uses CUDA: LightGBM's wheel and the DuckDB/Feast join are CPU-only.
TRAINING_ASSETS = {"training_set": PodSize.TRAINING, "delay_model_lgbm": PodSize.TRAINING,
                   "delay_model_torch": PodSize.GPU_TRAINING}  # fmt: skip

# Requests from benchmarks/RESULTS.md: a full-year feature build peaks at 2.6 GiB, the
# full-year point-in-time join at 1.1 GiB, LightGBM trains a year in 7.5 s on 2 cores.
_RESOURCES: dict[PodSize, dict[str, dict[str, str]]] = {
    PodSize.SMALL: {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "4Gi"},
    },
    PodSize.TRAINING: {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"memory": "16Gi"},
    },
}


def size_of(key: dg.AssetKey) -> PodSize:
    return TRAINING_ASSETS.get(key.to_user_string(), PodSize.SMALL)


def k8s_config(size: PodSize) -> dict[str, Any]:
    """The `dagster-k8s/config` value of a pod of this size, in dagster-k8s' snake_case."""
    gpu_pool = os.environ.get(GPU_NODE_SELECTOR_ENV, "")
    if size is PodSize.GPU_TRAINING and not gpu_pool:
        size = PodSize.TRAINING
    resources = _RESOURCES[min(size, PodSize.TRAINING)]
    if size is not PodSize.GPU_TRAINING:
        return {"container_config": {"resources": resources}}
    label, _, value = gpu_pool.partition("=")
    limits = {**resources["limits"], "nvidia.com/gpu": "1"}
    return {
        "container_config": {"resources": {**resources, "limits": limits}},
        "pod_spec_config": {
            "node_selector": {label: value},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }


def run_pod_config(keys: Iterable[dg.AssetKey]) -> dict[str, Any]:
    """One pod runs every step: it needs the largest size among the run's assets."""
    return k8s_config(max((size_of(key) for key in keys), default=PodSize.SMALL))


def planned_asset_keys(instance: dg.DagsterInstance, run: DagsterRun) -> set[dg.AssetKey]:
    """The assets a run's execution plan materialises: the same for every way of launching it."""
    if run.execution_plan_snapshot_id is None:
        return set(run.asset_selection or ())
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    selected = set(plan.step_keys_to_execute)
    return {
        output.properties.asset_key
        for step in plan.steps
        if step.key in selected
        for output in step.outputs
        if output.properties is not None and output.properties.asset_key is not None
    }


def executor() -> dg.ExecutorDefinition:
    """In process by default; one Kubernetes Job per step when FLIGHTPATH_EXECUTOR=k8s."""
    if os.environ.get(EXECUTOR_ENV) != "k8s":
        # A subprocess per step costs ~2 s a step and buys nothing at this size.
        return dg.in_process_executor
    from dagster_k8s import k8s_job_executor

    # Image, namespace, env and secrets come from the K8sRunLauncher's config (dagster.yaml).
    # An asset's op is named after it: the per-op overrides are the non-small assets.
    return k8s_job_executor.configured(
        {
            "step_k8s_config": k8s_config(PodSize.SMALL),
            "per_step_k8s_config": {
                name: k8s_config(size) for name, size in TRAINING_ASSETS.items()
            },
            # At most 4 step pods of one run at a time: a run should not take a node pool alone.
            "max_concurrent": 4,
        },
        name="k8s_per_step",
    )
