"""Serving under loopback load: our service against the tutorial way and a bare ceiling.

    python -m benchmarks.serving [--data /tmp/bench] [--day 2013-07-15] [--seconds 10]

See benchmarks/serving/__init__.py for what runs; results go to <data>/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DEFAULT_DATA, home, measure, save
from benchmarks.serving import homes, load, profiles, watch
from benchmarks.serving.homes import Store, redis_store, sqlite_store
from benchmarks.serving.report import markdown, summary
from benchmarks.serving.servers import Running, Server, started

OURS = "bentos.service:DelayService"
NAIVE = "benchmarks.serving.naive_service:NaiveDelayService"
PROFILED = "benchmarks.serving.profiled:DelayService"
WHATIF = "benchmarks.serving.whatif:DelayService"
CONSTANT = "benchmarks.serving.ceiling_bentoml:ConstantService"
WATCHED = (WHATIF,)  # wrappers already: GC passes and log flushes recorded (watch.py)
CHECKED = 40  # bodies whose answers are compared across the servers


def env(store: Store) -> dict[str, str]:
    return {**store.env, "FLIGHTPATH_FEAST_PROFILE": store.profile}


def base_env(target: Path) -> dict[str, str]:
    """Every server: the serving home, no API keys, no effective rate limit."""
    return {"FLIGHTPATH_HOME": str(target), "BENTOML_HOME": str(target / "bentoml"),
            "FLIGHTPATH_AUTH": "off", "FLIGHTPATH_RATE_LIMIT": "1000000000"}  # fmt: skip


def configurations(project: str) -> list[tuple[Server, bool]]:
    """(server, with the challenger in shadow) in the order they run."""
    sqlite, redis = sqlite_store(), redis_store(project)
    return [
        (Server("ceiling", "uvicorn:benchmarks.serving.ceiling:app"), False),
        (Server("ceiling-bentoml", CONSTANT), False),
        (Server("naive-sqlite", NAIVE, env(sqlite)), False),
        (Server("naive-redis", NAIVE, env(redis)), False),
        (Server("ours-sqlite", OURS, env(sqlite)), False),
        (Server("ours-redis", OURS, env(redis)), False),
        (Server("ours-sqlite+shadow", OURS, env(sqlite)), True),
        (Server("whatif-redis", WHATIF, env(redis)), False),
    ]


def answers(running: Running, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    with httpx.Client(base_url=running.url, timeout=30) as client:
        for body in bodies[:CHECKED]:
            response = client.post("/predict", json=body)
            first = response.json()["predictions"][0] if response.status_code == 200 else {}
            out.append({"status": response.status_code, "probability": first.get("probability"),
                        "degraded": first.get("degraded")})  # fmt: skip
    return out


def run_server(
    running: Running, bodies: list[dict[str, Any]], bodies_file: Path, args: argparse.Namespace
) -> dict[str, Any]:
    checked = answers(running, bodies)
    warm = load.measure(running, bodies_file, 16, args.warmup)
    served = len(checked) + warm["requests"]
    cells, windows = [], []
    for connections in args.concurrency:
        began = time.time()
        cell = load.measure(running, bodies_file, connections, args.seconds)
        windows.append((connections, began, time.time()))
        cells.append({**cell, "requests_before": served})
        served += cell["requests"]
    time.sleep(1.2)  # watch.py writes its events every second
    return {"start_seconds": running.start_seconds, "answers": checked, "cells": cells,
            "windows": windows}  # fmt: skip


def profile_run(
    server: Server, home_dir: Path, bodies_file: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Our service (Redis) under c=16 with every worker thread profiled, GC passes watched."""
    folder, watched = home_dir / "profile", home_dir / "watch"
    subprocess.run(["rm", "-rf", str(folder), str(watched)], check=True)
    folder.mkdir()
    watched.mkdir()
    server.env.update({"BENCH_PROFILE_DIR": str(folder), "BENCH_WATCH_DIR": str(watched)})
    with started(server, home_dir) as running:
        load.measure(running, bodies_file, 16, args.warmup)
        worker = max(running.tree()[1:], key=lambda p: p.cpu_times().user).pid
        profiles.snapshot(folder, "before", worker)
        began = time.time()
        cell = load.measure(running, bodies_file, 16, args.seconds)
        window = [(16, began, time.time())]
        profiles.snapshot(folder, "after", worker)
        time.sleep(1.2)
    threads = profiles.window(
        profiles.load(folder, "before", worker), profiles.load(folder, "after", worker)
    )
    return {"cell": cell, "stalls": watch.per_cell(watched, window),
            **profiles.summarize_worker(threads, cell["requests"])}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    data: Path = args.data
    target = data / "serving_home"
    prepared = homes.prepare_home(home(data), target, args.day)
    homes.lineup(target, challenger=False)
    champion = _champion_dests(target)
    bodies = homes.request_bodies(target, args.day, args.bodies, champion)
    bodies_file = target / "bodies.jsonl"
    bodies_file.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    redis = redis_store(args.project)
    prepared["redis_rows"] = homes.prepare_redis(target, redis, args.day)
    result: dict[str, Any] = {"settings": _settings(args, len(bodies)), "home": prepared}
    try:
        result["in_process"] = {
            store: measure("benchmarks.serving.inprocess", str(target), str(bodies_file), store,
                           args.project, "--reads", str(args.reads), "--rounds",
                           str(args.rounds), "--profile", str(args.rounds), timeout=600)
            for store in ("sqlite", "redis")
        }  # fmt: skip
        result["servers"] = {}
        watched = target / "watch"
        for server, shadow in configurations(args.project):
            server.env.update(base_env(target))
            subprocess.run(["rm", "-rf", str(watched)], check=True)
            if server.target in WATCHED:
                watched.mkdir()
                server.env["BENCH_WATCH_DIR"] = str(watched)
            measured: dict[str, Any] = {"lineup": homes.lineup(target, challenger=shadow)}
            result["servers"][server.name] = measured
            with started(server, target) as running:
                measured.update(run_server(running, bodies, bodies_file, args))
            if server.target in WATCHED:
                measured["stalls"] = watch.per_cell(watched, measured["windows"])
            print(f"{server.name}: done at {time.perf_counter() - began:.0f} s", flush=True)
        homes.lineup(target, challenger=False)
        profiled = Server("ours-redis-profiled", PROFILED, {**base_env(target), **env(redis)})
        result["worker_profile"] = profile_run(profiled, target, bodies_file, args)
    finally:
        if not args.keep:
            homes.drop_redis(target, redis)
    result["seconds"] = time.perf_counter() - began
    result["summary"] = summary(result)
    return result


def _champion_dests(target: Path) -> set[str]:
    from flightpath.models.registry import ModelRegistry

    registry = ModelRegistry(target / "bentoml")
    tag = registry.alias("champion")
    assert tag is not None
    return set(registry.load(tag).spec.vocabularies.get("dest", []))


def _settings(args: argparse.Namespace, bodies: int) -> dict[str, Any]:
    version = subprocess.run([load.wrk_path(), "--version"], capture_output=True, text=True)
    return {
        "command": "python -m benchmarks.serving " + " ".join(args.argv),
        "day": args.day.isoformat(),
        "bodies": bodies,
        "seconds_per_cell": args.seconds,
        "warmup_seconds": args.warmup,
        "concurrency": args.concurrency,
        "load_generator": (version.stdout or version.stderr).splitlines()[0]
        + " (1 thread, closed loop, on the same machine)",
        "redis_project": args.project,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 7, 15))
    parser.add_argument("--seconds", type=float, default=10, help="per cell")
    parser.add_argument("--warmup", type=float, default=2, help="per server, at c=16")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--bodies", type=int, default=300)
    parser.add_argument("--reads", type=int, default=3000, help="in-process feature reads")
    parser.add_argument("--rounds", type=int, default=1000, help="in-process handler calls")
    parser.add_argument("--project", default="flightpath_bench", help="Feast project on Redis")
    parser.add_argument("--keep", action="store_true", help="keep the Redis keys and database")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    result = run(args)
    print("saved", save(args.data, "serving", result))
    print(markdown(result))


if __name__ == "__main__":
    main()
