"""`python -m apps.production up|down`: the production profile on this machine.

up: the S3-compatible server, Dagster's code server, daemon and webserver on Postgres, and the
prediction service (a worker per core) on Redis, all on 127.0.0.1; down: stops every one of them.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from apps.production.instance import create_bucket, create_databases, write_instance
from apps.production.processes import process_tree, start, stop
from apps.production.profile import ROOT, Profile, saved
from bentos.workers import api_workers
from flightpath.home import bentoml_home

READY_SECONDS = float(os.environ.get("FLIGHTPATH_PROD_READY_SECONDS", "300"))
STOP_SECONDS = float(os.environ.get("FLIGHTPATH_PROD_STOP_SECONDS", "30"))
BIN = Path(sys.executable).parent


class NotReady(RuntimeError):
    pass


def up(profile: Profile) -> int:
    """Start every part that is not running (all of them the first time)."""
    previous = saved(profile.state)
    processes: dict[str, int] = {}
    if previous is not None:
        running = {name: group for name, group in previous[1].items() if process_tree(group)}
        if running:  # the same ports and names as the parts already up
            profile, processes = previous[0], running
    for name, address in (("Postgres", (profile.postgres_host, profile.postgres_port)),
                          ("Redis", _host_port(profile.redis))):  # fmt: skip
        if not _accepts(address):
            print(f"{name} is not reachable at {address[0]}:{address[1]}: start it first")
            return 1
    started = set(processes)
    try:
        _up(profile, processes)
    except NotReady as error:
        print(f"prod-up failed: {error}\nstopping what it started", file=sys.stderr)
        _stop_all({k: v for k, v in processes.items() if k not in started})
        profile.save({k: v for k, v in processes.items() if k in started})
        return 1
    return 0


def _up(profile: Profile, processes: dict[str, int]) -> None:
    env, logs = profile.environment(), profile.state / "logs"
    os.environ.update(env)  # this process reads the bucket's model registry too

    def launch(name: str, argv: list[str], ready: Callable[[], bool]) -> None:
        if name in processes:
            return
        processes[name] = start(argv, env, logs / f"{name}.log", ROOT)
        profile.save(processes)  # at once: a prod-up that fails half-way can still be stopped
        _wait(processes[name], logs / f"{name}.log", ready)

    launch("s3", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(profile.s3_port)],
           lambda: _http_ok(f"{profile.s3_endpoint}/"))  # fmt: skip
    create_bucket(profile)
    create_databases(profile)
    workspace = str(write_instance(profile))
    launch("code", [str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions",
                    "-h", "127.0.0.1", "-p", str(profile.code_port)],
           lambda: _accepts(("127.0.0.1", profile.code_port)))  # fmt: skip
    launch("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], lambda: True)
    ui = f"http://127.0.0.1:{profile.ui_port}"
    launch("ui", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1",
                  "-p", str(profile.ui_port), "-w", workspace],
           lambda: _http_ok(f"{ui}/server_info"))  # fmt: skip
    service = f"http://127.0.0.1:{profile.service_port}"
    if _has_champion(profile):
        launch("service", [str(BIN / "bentoml"), "serve", "bentos.service:DelayService",
                           "--port", str(profile.service_port)],
               lambda: _http_ok(f"{service}/readyz"))  # fmt: skip
        serving = (f"{service}  ({api_workers()} workers; X-API-Key in "
                   f"{profile.state / 'api_key'} or yours)")  # fmt: skip
    else:
        serving = "not started: no champion yet (promote one, then `make prod-up` again)"
    print(
        f"Flightpath production profile of {profile.home} is up:\n"
        f"  Dagster UI   {ui}  (Postgres database {profile.database})\n"
        f"  service      {serving}\n"
        f"  bucket       {profile.storage_url} at {profile.s3_endpoint} (the lake: /lake)\n"
        f"  Feast        project {profile.feast_project}: Redis {profile.redis}, "
        f"registry in Postgres database {profile.feast_database}\n"
        f"  state, logs  {profile.state}\n"
        "Stop it all with: make prod-down"
    )


def down(state: Path) -> int:
    record = saved(state)
    if record is None:
        print(f"nothing to stop: no production profile was started under {state}")
        return 0
    _stop_all(record[1])
    (state / "processes.json").unlink()
    return 0


def _stop_all(processes: dict[str, int]) -> None:
    # The service and the UI first, the daemon before it can queue more, then the code server
    # with the runs it started (they are in its process group), the object storage last.
    for name, group in reversed(processes.items()):
        print(f"{name:8} {stop(group, STOP_SECONDS)}")


def _wait(group: int, log: Path, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not ready():
        if not process_tree(group):
            raise NotReady(f"it exited; the end of {log}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise NotReady(f"not ready in {READY_SECONDS:.0f} s; the end of {log}:\n{_tail(log)}")
        time.sleep(0.5)


def _has_champion(profile: Profile) -> bool:
    from flightpath.models.registry import CHAMPION, ModelRegistry

    return ModelRegistry(bentoml_home(Path(profile.home))).alias(CHAMPION) is not None


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _accepts(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        return False
    return True


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.partition(":")
    return host, int(port or 6379)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.production", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args(argv)
    profile = Profile.from_env()
    return up(profile) if args.command == "up" else down(profile.state)


if __name__ == "__main__":
    sys.exit(main())
