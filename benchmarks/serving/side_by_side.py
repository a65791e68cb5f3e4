"""Ours against BentoML answering a constant, same workers and settings, in one run (issue 14.1).

    python -m benchmarks.serving.side_by_side --home HOME [--day 2013-01-17] [--seconds 10]
        [--concurrency 1 16 64] [--workers N] [--out /tmp/side]

HOME: a data home with a champion and a challenger promoted, Feast applied and the day's
`online_snapshots/*` in its lake (the serving benchmark's `<data>/serving_home`, or the tests'
service home). It is copied to `<out>/home` (the copy's aliases are rewritten per server). The
day's rows also go into Redis (127.0.0.1:6379) under a Feast project of this run's own (registry
in its own Postgres database), dropped at the end.

Servers, one after the other, each with `--workers` API workers (default: this machine's cores)
and wrk (1 thread, closed loop, on the same machine) at each concurrency with one flight a
request, then at c=16 with 100 flights a request: BentoML's constant answer
(ceiling_bentoml.py), ours on SQLite with and without the challenger shadowing, ours on Redis.
Results: `<out>/results/side_by_side.json` and the tables printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import machine, save, table
from benchmarks.serving import load
from benchmarks.serving.homes import prepare_redis, redis_store, request_bodies
from benchmarks.serving.servers import Server, started
from bentos.workers import api_workers

OURS = "bentos.service:DelayService"
CONSTANT = "benchmarks.serving.ceiling_bentoml:ConstantService"
BATCH = 100  # flights a request in the batch cell
BATCH_CONNECTIONS = 16


def _lineup(home: Path, aliases: dict[str, list[str]], challenger: bool) -> None:
    kept = {"champion": aliases["champion"][-1:]}
    if challenger:
        kept["challenger"] = aliases["challenger"][-1:]
    (home / "bentoml" / "aliases.json").write_text(json.dumps(kept))


def _bodies(home: Path, day: date, folder: Path) -> tuple[Path, Path]:
    """One flight a body (300 of the day) and 100 flights a body (30), as wrk's body files."""
    from flightpath.models.registry import ModelRegistry

    registry = ModelRegistry(home / "bentoml")
    tag = registry.alias("champion")
    assert tag is not None
    dests = set(registry.load(tag).spec.vocabularies.get("dest", []))
    single = request_bodies(home, day, 300, dests)
    flights = [b["flights"][0] for b in single]
    batches = [{"flights": [flights[(i + j) % len(flights)] for j in range(BATCH)]}
               for i in range(0, len(flights), 10)]  # fmt: skip
    paths = folder / "bodies-1.jsonl", folder / f"bodies-{BATCH}.jsonl"
    for path, bodies in zip(paths, (single, batches), strict=True):
        path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    return paths


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: Path = args.out
    home = out / "home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("prediction_log", "serve-*"))
    aliases = json.loads((home / "bentoml" / "aliases.json").read_text())
    single, batch = _bodies(home, args.day, out)
    redis = redis_store(f"flightpath_side_{uuid.uuid4().hex[:8]}")
    base = {"FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(home / "bentoml"),
            "FLIGHTPATH_AUTH": "off", "FLIGHTPATH_RATE_LIMIT": "1000000000",
            "FLIGHTPATH_WORKERS": str(args.workers)}  # fmt: skip
    sqlite = {"FLIGHTPATH_FEAST_PROFILE": "feature_store.yaml"}
    servers = [
        (Server("constant-bentoml", CONSTANT, dict(base)), False),
        (Server("ours-sqlite", OURS, {**base, **sqlite}), False),
        (Server("ours-sqlite+shadow", OURS, {**base, **sqlite}), True),
        (Server("ours-redis", OURS, {**base, **redis.env,
                                     "FLIGHTPATH_FEAST_PROFILE": redis.profile}), False),
    ]  # fmt: skip
    result: dict[str, Any] = {"settings": vars(args) | {"out": str(out), "home": str(args.home)},
                              "uptime_before": _uptime(), "servers": {}}  # fmt: skip
    began = time.perf_counter()
    try:
        result["redis_rows"] = prepare_redis(home, redis, args.day)
        for server, shadow in servers:
            _lineup(home, aliases, shadow)
            with started(server, out) as running:
                load.measure(running, single, 16, args.warmup)
                cells = [{"flights": 1, **load.measure(running, single, c, args.seconds)}
                         for c in args.concurrency]  # fmt: skip
                cells.append({"flights": BATCH, **load.measure(running, batch, BATCH_CONNECTIONS,
                                                               args.seconds)})  # fmt: skip
            result["servers"][server.name] = {"cells": cells, "uptime": _uptime()}
            print(f"{server.name}: done at {time.perf_counter() - began:.0f} s", flush=True)
    finally:
        from benchmarks.serving.homes import drop_redis

        drop_redis(home, redis)
    result["seconds"] = time.perf_counter() - began
    return result


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def markdown(result: dict[str, Any]) -> str:
    servers = result["servers"]
    rows = [
        {"server": name, "flights/request": c["flights"], "c": c["connections"],
         "rps": f"{c['rps']:,.0f}", "flights/s": f"{c['rps'] * c['flights']:,.0f}",
         "p50 ms": f"{c['p50_ms']:.1f}", "p99 ms": f"{c['p99_ms']:.1f}", "errors": c["errors"],
         "other cores busy": f"{_others(c):.2f}"}
        for name, server in servers.items() for c in server["cells"]
    ]  # fmt: skip
    ratios = []
    for i, cell in enumerate(servers["constant-bentoml"]["cells"]):

        def rps(name: str, i: int = i) -> float:
            return float(servers[name]["cells"][i]["rps"])

        ratios.append({
            "flights/request": cell["flights"], "c": cell["connections"],
            "shadow ÷ no shadow (SQLite)": f"{rps('ours-sqlite+shadow') / rps('ours-sqlite'):.2f}",
            "ours SQLite ÷ constant": f"{rps('ours-sqlite') / rps('constant-bentoml'):.2f}",
            "ours Redis ÷ constant": f"{rps('ours-redis') / rps('constant-bentoml'):.2f}",
        })  # fmt: skip
    return table(rows) + "\n\n" + table(ratios)


def _others(cell: dict[str, Any]) -> float:
    """Cores used by processes other than the server, wrk and Redis during the cell."""
    cores = cell["cores"]
    return float(max(0.0, cores["machine"] - cores["server"] - cores["wrk"] - cores["redis"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 1, 17))
    parser.add_argument("--seconds", type=float, default=10, help="per cell")
    parser.add_argument("--warmup", type=float, default=2, help="per server, at c=16")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--workers", type=int, default=api_workers())
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "side")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = run(args)
    result["machine"] = machine()
    print("saved", save(args.out, "side_by_side", result))
    print(markdown(result))


if __name__ == "__main__":
    main()
