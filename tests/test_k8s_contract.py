"""What dagster-k8s really POSTs to Kubernetes for our runs and steps, on every launch path.

A fake Kubernetes API on 127.0.0.1 records the Jobs; the Dagster instance is deploy/dagster.yaml
(Postgres, queued runs) plus a launcher variant from deploy/k8s/, pointed at it by a kubeconfig.
Runs are created the ways production creates them: GraphQL `launchRun` (the UI: a job, an asset
selection), the sensor daemon's tick (a sensor's run request, declarative automation), and the
queue daemon launches them. Step Jobs come from the run worker's own command (`dagster api
execute_run` with `FLIGHTPATH_EXECUTOR=k8s`), which runs `k8s_job_executor`.
"""

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes_validate
import psycopg
import pytest
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.asset_daemon import AssetDaemon
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._daemon.sensor import execute_sensor_iteration
from dagster_graphql.client.client_queries import CLIENT_SUBMIT_PIPELINE_RUN_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from flightpath.run_tags import RETRAINING
from pipelines.jobs import retrain_config
from pipelines.k8s import EXECUTOR_ENV, GPU_NODE_SELECTOR_ENV

ROOT = Path(__file__).parent.parent
IMAGE = "registry.example/flightpath:contract"  # what the code server reports as its image
K8S_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
GPU_POOL = "cloud.google.com/gke-nodepool=gpu"
SECRETS = {"flightpath-postgres", "flightpath-object-storage", "flightpath-redis"}
TRAINING_MEMORY, SMALL_MEMORY = "8Gi", "1Gi"


class FakeKubernetes(ThreadingHTTPServer):
    """Answers Job creation like the API server (201, the object back) and records each body."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubernetes

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.startswith("/apis/batch/v1/namespaces/") and self.path.endswith("/jobs"):
            self.server.jobs.append(body)
            self._answer(201, body)
        else:
            self._answer(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def do_GET(self) -> None:
        # No Job ever runs here: a step's health check finds none and the run worker stops.
        self._answer(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_k8s() -> Iterator[FakeKubernetes]:
    server = FakeKubernetes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def postgres_db() -> Iterator[str]:
    name = f"flightpath_k8s_contract_{os.getpid()}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _instance(
    variant: str, home: Path, fake: FakeKubernetes, db: str, monkeypatch: pytest.MonkeyPatch
) -> dg.DagsterInstance:
    """deploy/dagster.yaml + deploy/k8s/<variant>, only the cluster address changed."""
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{fake.server_port}"}}],
            "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        })
    )  # fmt: skip
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    launcher = yaml.safe_load((ROOT / "deploy/k8s" / variant / "run_launcher.yaml").read_text())
    launcher["run_launcher"]["config"] |= {
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump({**config, **launcher}))
    for name, value in {
        "DAGSTER_HOME": str(home), "DAGSTER_PG_USERNAME": "postgres", "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_DB": db, "DAGSTER_PG_PORT": "5432",
        "FLIGHTPATH_MAX_CONCURRENT_RUNS": "10", "FLIGHTPATH_COMPUTE_LOG_DIR": str(home / "logs"),
        "FLIGHTPATH_HOME": str(home / "data"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return dg.DagsterInstance.from_config(str(home))


def _workspace(instance: dg.DagsterInstance) -> Any:
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="pipelines.definitions",
            working_directory=str(ROOT),
        ),
        location_name="flightpath",
        container_image=IMAGE,
    )
    return create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance)


def _launch(context: WorkspaceProcessContext, job: str, **params: Any) -> str:
    """What the UI's Launch / Materialize button sends."""
    selector = {"repositoryLocationName": "flightpath", "repositoryName": "__repository__",
                "pipelineName": job, **params.pop("selector", {})}  # fmt: skip
    result = execute_dagster_graphql(
        context.create_request_context(),
        CLIENT_SUBMIT_PIPELINE_RUN_MUTATION,
        {"executionParams": {"selector": selector, "mode": "default", **params}},
    )
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _dequeue(context: WorkspaceProcessContext) -> None:
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))


def _container(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]["containers"][0]


def _assert_ours(job: dict[str, Any]) -> None:
    """Our image, env from our Secrets and ConfigMap, and a Job Kubernetes 1.30-1.33 accepts."""
    container = _container(job)
    assert container["image"] == IMAGE
    assert {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s} == SECRETS
    assert {"flightpath-config"} <= {
        s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s
    }
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)


def _size(job: dict[str, Any]) -> tuple[str, bool]:
    """(memory requested, on the GPU pool): a GPU limit comes with its toleration and pool."""
    spec = job["spec"]["template"]["spec"]
    resources = _container(job)["resources"]
    gpu = "nvidia.com/gpu" in resources.get("limits", {})
    tolerated = any(t["key"] == "nvidia.com/gpu" for t in spec.get("tolerations") or [])
    assert gpu == tolerated == bool(spec.get("nodeSelector")), spec
    return resources["requests"]["memory"], gpu


def _assets(*keys: str) -> dict[str, Any]:
    return {"selector": {"assetSelection": [{"path": [key]} for key in keys]}}


def _run_job(fake: FakeKubernetes, run_id: str) -> dict[str, Any]:
    jobs = [j for j in fake.jobs if j["metadata"]["name"] == f"dagster-run-{run_id}"]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in fake.jobs]
    return jobs[0]


@pytest.mark.parametrize("gpu_pool", [GPU_POOL, None], ids=["gpu-pool", "no-gpu-pool"])
def test_run_pods_are_sized_by_their_assets_on_every_launch_path(
    tmp_path: Path,
    fake_k8s: FakeKubernetes,
    postgres_db: str,
    monkeypatch: pytest.MonkeyPatch,
    gpu_pool: str | None,
) -> None:
    if gpu_pool:
        monkeypatch.setenv(GPU_NODE_SELECTOR_ENV, gpu_pool)
    else:
        monkeypatch.delenv(GPU_NODE_SELECTOR_ENV, raising=False)
    instance = _instance("run-launcher", tmp_path, fake_k8s, postgres_db, monkeypatch)
    with instance, _workspace(instance) as context:
        # A monitor's alert for retrain_sensor; feast_registry is missing for automation.
        through = date(2013, 2, 20)
        day = through.isoformat()
        alert = {"alerts": ["PSI 0.4 on dep_delay_1h"]}
        for key, metadata in (("online_features", {}), ("feature_drift", alert)):
            event = dg.AssetMaterialization(key, partition=day, metadata=metadata)
            instance.report_runless_asset_event(event)
        list(execute_sensor_iteration(context, logging.getLogger("sensor"), None, None))
        automation_daemon = AssetDaemon(instance.get_auto_materialize_settings(), 0)
        automation_daemon._run_iteration_impl(context, None, {}, {})
        retrain = _launch(context, "retrain", runConfigData=retrain_config(through))
        lgbm = _launch(context, "__ASSET_JOB", **_assets("delay_model_lgbm"))
        planes = _launch(context, "__ASSET_JOB", **_assets("raw_planes"))
        by_sensor = {
            run.tags.get("dagster/sensor_name"): run.run_id
            for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
        }
        sensor_retrain, automation = by_sensor["retrain_sensor"], by_sensor["flightpath_automation"]

        _dequeue(context)
        # Two retrainings queued: the tag limit of deploy/dagster.yaml lets one start.
        retrains = {retrain, sensor_retrain}
        started = {run_id for run_id in retrains if instance.get_run_by_id(run_id).status
                   == dg.DagsterRunStatus.STARTING}  # fmt: skip
        assert len(started) == 1
        assert instance.get_run_by_id(*(retrains - started)).status == dg.DagsterRunStatus.QUEUED
        instance.report_run_failed(instance.get_run_by_id(*started))
        _dequeue(context)

        for run_id in (retrain, sensor_retrain):
            assert instance.get_run_by_id(run_id).tags[RETRAINING] == "true"
            job = _run_job(fake_k8s, run_id)
            _assert_ours(job)
            assert _size(job) == (TRAINING_MEMORY, bool(gpu_pool))  # the torch challenger is in it
        job = _run_job(fake_k8s, lgbm)  # LightGBM alone: training memory, no GPU
        _assert_ours(job)
        assert _size(job) == (TRAINING_MEMORY, False)
        for run_id in (planes, automation):
            job = _run_job(fake_k8s, run_id)
            _assert_ours(job)
            assert _size(job) == (SMALL_MEMORY, False)
        assert instance.get_run_by_id(automation).asset_selection == {dg.AssetKey("feast_registry")}


def test_an_explicit_run_tag_still_wins(
    tmp_path: Path, fake_k8s: FakeKubernetes, postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _instance("run-launcher", tmp_path, fake_k8s, postgres_db, monkeypatch)
    tag = {"container_config": {"resources": {"requests": {"memory": "3Gi"}}}}
    with instance, _workspace(instance) as context:
        tags = [{"key": "dagster-k8s/config", "value": json.dumps(tag)}]
        run_id = _launch(context, "__ASSET_JOB", **_assets("delay_model_lgbm"),
                         executionMetadata={"tags": tags})  # fmt: skip
        _dequeue(context)
    assert _size(_run_job(fake_k8s, run_id)) == ("3Gi", False)


def test_step_pods_are_sized_by_their_op(
    tmp_path: Path, fake_k8s: FakeKubernetes, postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GPU_NODE_SELECTOR_ENV, GPU_POOL)
    instance = _instance("per-step", tmp_path, fake_k8s, postgres_db, monkeypatch)
    selection = ["delay_model_lgbm", "delay_model_torch", "feast_registry"]
    with instance, _workspace(instance) as context:
        run_id = _launch(context, "__ASSET_JOB", **_assets(*selection))
        _dequeue(context)
        run_job = _run_job(fake_k8s, run_id)
        _assert_ours(run_job)
        assert _size(run_job) == ("512Mi", False)  # the orchestrator
        # What the run pod would run, here: k8s_job_executor launches one Job per ready step.
        command = _container(run_job)["args"]
        env = {**os.environ, EXECUTOR_ENV: "k8s", "PYTHONPATH": str(ROOT)}
        worker = subprocess.run(
            [str(Path(sys.executable).parent / command[0]), *command[1:]],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        steps = {j["metadata"]["labels"]["dagster/op"]: j for j in fake_k8s.jobs[1:]}
        assert set(steps) == set(selection), worker.stdout[-3000:] + worker.stderr[-3000:]
    for step in steps.values():
        _assert_ours(step)
    assert {op: _size(job) for op, job in steps.items()} == {
        "delay_model_torch": (TRAINING_MEMORY, True),
        "delay_model_lgbm": (TRAINING_MEMORY, False),
        "feast_registry": (SMALL_MEMORY, False),
    }
