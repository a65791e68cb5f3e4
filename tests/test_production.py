"""The production profile end to end on this machine: `make prod-up`, a run launched through
Dagster's GraphQL API, the daemon's own ticks, the service on Redis, then `make prod-down`.

Real processes on real services: Postgres and Redis on 127.0.0.1 (skipped loudly without them),
the S3-compatible server that prod-up starts. Everything the test creates is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest
import redis
from dagster_graphql import DagsterGraphQLClient

from apps.loop import request_bodies
from apps.production.instance import drop_databases
from apps.production.processes import alive, process_tree
from apps.production.profile import FEAST_PROFILE, Profile, saved
from apps.service_process import free_port
from bentos.workers import api_workers
from flightpath.landing import DAILY_TABLES
from flightpath.storage import lake_location, object_storage
from pipelines.jobs import DAY_THROUGH_ONLINE
from pipelines.run_launcher import run_worker_pid
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from resources.landing import LandingZone
from tests.services import POSTGRES, REDIS, require
from tests.serving import API_KEY, ROOT, promote, register_models

DAY = date(2013, 1, 1)
REFERENCE = ("raw_airlines", "raw_airports", "raw_planes", "airports")
WAIT_SECONDS = 300
BIN = Path(sys.executable).parent
PARTS = ("UI", "CODE", "SERVICE", "S3")


def _ignore_stop_signals() -> None:
    """What a non-interactive shell's `&` hands down: SIGINT and SIGTERM ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def make(target: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`make <target>` with this interpreter's environment (not a fresh .venv), and `env`."""
    installed = BIN / ".installed"
    return subprocess.run(
        ["make", "-s", "-o", str(installed), target, f"BIN={BIN}"], cwd=ROOT, text=True,
        capture_output=True, timeout=600, preexec_fn=_ignore_stop_signals,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture
def profile(
    tmp_path: Path, landed_home: Path, feature_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Profile]:
    """A data home with one landed day and a champion, and the variables of its profile."""
    require("Postgres", POSTGRES)
    require("Redis", REDIS)
    home = tmp_path / "home"
    source, landing = (
        LandingZone(root=str(landed_home / "landing")),
        LandingZone(root=str(home / "landing")),
    )
    # The day only, no reference files: the landing sensor then waits for reference tables it
    # never sees materialised, so the one ingestion of the day is the run this test launches.
    for table in DAILY_TABLES:
        landing.day_path(table, DAY).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source.day_path(table, DAY), landing.day_path(table, DAY))
    name = f"flightpath_prod_{uuid.uuid4().hex[:8]}"
    variables = {
        "FLIGHTPATH_HOME": str(home), "FLIGHTPATH_PROD_DB": name, "FLIGHTPATH_API_KEYS": API_KEY,
        **{f"FLIGHTPATH_PROD_{part}_PORT": str(free_port()) for part in PARTS},
        # The weekly retraining ticks every minute here (and skips: too early to retrain).
        "FLIGHTPATH_CRON_WEEKLY_RETRAIN": "* * * * *",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    profile = Profile.from_env()
    for key, value in profile.environment().items():
        monkeypatch.setenv(key, value)  # the test reads the instance and Feast as the profile does
    try:
        yield profile
    finally:
        make("prod-down")
        drop_databases(profile)


def test_production_profile_end_to_end(
    profile: Profile, landed_home: Path, feature_home: Path
) -> None:
    up = make("prod-up")
    assert up.returncode == 0, up.stdout + up.stderr
    ui = f"http://127.0.0.1:{profile.ui_port}"
    assert ui in up.stdout and profile.storage_url in up.stdout
    assert "no champion yet" in up.stdout
    # A champion in the bucket's registry; prod-up again starts the one part missing: the service.
    home = Path(profile.home)
    champion, _ = register_models(home, source=feature_home)
    promote(home, champion)
    first = saved(profile.state)
    again = make("prod-up")
    assert again.returncode == 0, again.stdout + again.stderr
    record = saved(profile.state)
    assert first is not None and record is not None
    groups = record[1]
    assert groups == {**first[1], "service": groups["service"]}
    assert set(groups) == {"s3", "code", "daemon", "ui", "service"}

    lake = Lake(root=lake_location(home))
    assert lake.root.startswith(profile.storage_url)
    reference = Lake(root=str(landed_home / "lake"))
    for table in REFERENCE:
        lake.write_table(table, reference.read_table(table))
    instance = dg.DagsterInstance.from_config(str(profile.dagster_home))
    # Declarative automation applies the Feast registry (to Postgres) by itself.
    _wait_for(lambda: instance.get_latest_materialization_event(dg.AssetKey("feast_registry")),
              "the automation sensor's feast_registry run")  # fmt: skip

    client = DagsterGraphQLClient("127.0.0.1", port_number=profile.ui_port)
    run_id = client.submit_job_execution(
        "__ASSET_JOB", repository_location_name="flightpath", repository_name="__repository__",
        asset_selection=DAY_THROUGH_ONLINE, tags={"dagster/partition": DAY.isoformat()},
    )  # fmt: skip
    _wait_for(lambda: client.get_run_status(run_id) in FINISHED, f"run {run_id}")
    assert client.get_run_status(run_id) == dg.DagsterRunStatus.SUCCESS
    worker = run_worker_pid(instance, run_id)
    assert worker not in (None, groups["ui"], groups["daemon"], groups["code"])
    bucket = object_storage()
    written = bucket.glob(f"{profile.bucket}/**/date={DAY}/*.parquet")
    for table in ("flights", "weather", "flight_features"):
        assert f"{profile.bucket}/flightpath/lake/{table}/date={DAY}/part-0.parquet" in written

    # The daemon ticks a sensor and a schedule on its own.
    _wait_for(lambda: _ticked(instance, "landing_sensor") and _ticked(instance, "weekly_retrain"),
              "a landing_sensor tick and a weekly_retrain tick")  # fmt: skip

    # The service, a worker per core, answers from the features the run wrote to Redis.
    service = httpx.Client(base_url=f"http://127.0.0.1:{profile.service_port}",
                           headers={"X-API-Key": API_KEY}, timeout=30)  # fmt: skip
    flights = request_bodies(lake.read_partition("flights", DAY).dropna(subset=["tailnum"]).head(3))
    for _ in range(4):  # several requests: both workers' answers
        answer = service.post("/predict", json={"flights": flights})
        assert answer.status_code == 200, answer.text
        for prediction in answer.json()["predictions"]:
            assert not prediction["degraded"] and prediction["missing"] == []
            assert all(
                v.startswith("2013-01-02T05:00") for v in prediction["features_as_of"].values()
            )
    assert len(_bentoml_workers(groups["service"])) == api_workers()
    processes = {pid for group in groups.values() for pid in process_tree(group)}

    redis_keys = redis.Redis(host="127.0.0.1", port=6379)
    pattern = f"*{profile.feast_project}"
    assert redis_keys.keys(pattern), "the online features live in Redis under the profile's project"
    FeatureStoreResource(home=profile.home, profile=FEAST_PROFILE,
                         project=profile.feast_project).store().teardown()  # fmt: skip
    assert not redis_keys.keys(pattern)

    bucket.rm(profile.bucket, recursive=True)
    assert not bucket.exists(profile.bucket)

    # A graceful stop waits for work in flight; on the CI's busy 2 cores one of the five once
    # took over the default 30 s (which one was not recorded: the message now names it).
    down = make("prod-down", {"FLIGHTPATH_PROD_STOP_SECONDS": "120"})
    assert down.returncode == 0, down.stdout + down.stderr
    # Every process stopped on SIGTERM, none needed SIGKILL, though make started them with
    # SIGINT and SIGTERM ignored; no process of any group is left.
    endings = sorted(line.split()[1] for line in down.stdout.splitlines())
    assert endings == ["stopped"] * 5, down.stdout
    assert not alive(processes)
    assert not [pid for group in groups.values() for pid in process_tree(group)]
    assert saved(profile.state) is None


FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
        time.sleep(2)


def _ticked(instance: dg.DagsterInstance, name: str) -> bool:
    states = [s for s in instance.all_instigator_state() if s.instigator_name == name]
    return any(instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1) for s in states)


def _bentoml_workers(group: int) -> list[int]:
    """The service's API worker processes (the serve process and its watcher are not)."""
    return [
        pid for pid in process_tree(group)
        if "worker" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]  # fmt: skip
