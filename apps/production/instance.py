"""The profile's Dagster instance, its databases and its bucket, created when missing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml

from apps.production.profile import ROOT, Profile

PRODUCTION_INSTANCE = ROOT / "deploy" / "dagster.yaml"
# On one machine, runs are subprocesses of the code server: the default launcher, with the
# worker health check run monitoring needs (pipelines/run_launcher.py).
LOCAL_LAUNCHER = {"module": "pipelines.run_launcher", "class": "LocalRunLauncher"}


def local_instance() -> dict:
    """deploy/dagster.yaml (Postgres, the queue and its limits) with a local run launcher.

    A run on this machine cannot be resumed elsewhere (no pods), so monitoring fails a run whose
    process died instead of resuming it.
    """
    config = yaml.safe_load(PRODUCTION_INSTANCE.read_text())
    config["run_launcher"] = LOCAL_LAUNCHER
    local = {
        "max_resume_run_attempts": 0,
        "start_timeout_seconds": 180,
        "poll_interval_seconds": 10,
    }
    config["run_monitoring"] = {**config["run_monitoring"], **local}
    return config


def write_instance(profile: Profile) -> Path:
    """DAGSTER_HOME/dagster.yaml and the workspace that points at the code server."""
    profile.dagster_home.mkdir(parents=True, exist_ok=True)
    (profile.dagster_home / "dagster.yaml").write_text(yaml.safe_dump(local_instance()))
    workspace = profile.state / "workspace.yaml"
    location = {"host": "127.0.0.1", "port": profile.code_port, "location_name": "flightpath"}
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": location}]}))
    return workspace


def create_databases(profile: Profile) -> list[str]:
    """Dagster's and Feast's databases, each created if missing; returns those created."""
    created = []
    with psycopg.connect(_admin_url(profile), autocommit=True) as pg:
        for name in (profile.database, profile.feast_database):
            exists = pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                pg.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
    return created


def drop_databases(profile: Profile) -> None:
    with psycopg.connect(_admin_url(profile), autocommit=True) as pg:
        for name in (profile.database, profile.feast_database):
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_url(profile: Profile) -> str:
    return profile.postgres_url("postgres").replace("postgresql+psycopg", "postgresql")


def create_bucket(profile: Profile) -> None:
    """The profile's bucket on its S3 server (the AWS variables of its environment)."""
    from flightpath.storage import object_storage

    storage = object_storage()
    if not storage.exists(profile.bucket):
        # Not `mkdir`: s3fs sends the region as a location constraint, which S3 refuses for
        # us-east-1 (the default region).
        storage.call_s3("create_bucket", Bucket=profile.bucket)
