"""Real Postgres, Redis and S3 for the production-profile tests: present, or loudly absent.

Outside CI a missing service skips its tests with the reason; under CI (CI=true) it fails them.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from apps.service_process import free_port, stop

if TYPE_CHECKING:
    from resources.feature_store import FeatureStoreResource

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


def require(name: str, address: tuple[str, int]) -> None:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable at {address[0]}:{address[1]} ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must provide it (.ci/run starts it)")
        pytest.skip(f"SKIPPED LOUDLY: {message}; start it to run the production-profile tests")


@contextmanager
def production_feature_store(
    home: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> Iterator["FeatureStoreResource"]:
    """The production profile under a project of its own: Feast's registry in a new Postgres
    database named `<prefix>_<random>`, values in Redis; both removed afterwards."""
    import psycopg

    from resources.feature_store import FeatureStoreResource

    require("Postgres", POSTGRES)
    require("Redis", REDIS)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("FEAST_REGISTRY_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    monkeypatch.setenv("FEAST_REDIS", f"{REDIS[0]}:{REDIS[1]}")
    resource = FeatureStoreResource(
        home=str(home), profile="feature_store.production.yaml", project=name
    )
    try:
        yield resource
    finally:
        resource.store().teardown()  # removes this project's keys from Redis
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- an S3-compatible server (moto) on 127.0.0.1 -------------------------------------------

TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def s3_server() -> Iterator[str]:
    """A moto S3 server of its own on a free loopback port; yields its endpoint URL."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        message = f"no {binary} (pip install the dev extra: moto[server])"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    port = free_port()
    server = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on port {port}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server, timeout=10)


@contextmanager
def s3_bucket(endpoint: str, prefix: str = "flightpath-test") -> Iterator[str]:
    """A new bucket on `endpoint`; it and everything in it are removed afterwards."""
    import boto3

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys())
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def object_storage_env(endpoint: str, bucket: str, prefix: str = "prod") -> dict[str, str]:
    """The production profile's storage settings for `bucket` on `endpoint`."""
    return {
        "FLIGHTPATH_STORAGE_URL": f"s3://{bucket}/{prefix}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        **TEST_CREDENTIALS,
    }
