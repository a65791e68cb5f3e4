"""Ours against BentoML answering a constant, same workers and settings, in one run (issue 14.1).

    python -m benchmarks.serving.side_by_side --home HOME [--day 2013-01-17] [--seconds 10]
        [--concurrency 1 16 64] [--workers N] [--out /tmp/side]

HOME: a data home with a champion and a challenger promoted, Feast applied and the day's
`online_snapshots/*` in its lake (the serving benchmark's `<data>/serving_home`, or the tests'
service home). It is copied twice under `<out>`: the champion alone, and with the challenger.
The day's rows also go into Redis (127.0.0.1:6379) under a Feast project of this run's own
(registry in its own Postgres database), dropped at the end.

Servers, each with `--workers` API workers (default: this machine's cores): BentoML's constant
answer (ceiling_bentoml.py), ours on SQLite with and without the challenger shadowing, ours on
Redis; and the naive service on Redis (naive_service.py: the tutorial way, BentoML's default
settings and one worker), for the p99 goal against it. All five run at once, idle but for the
one under load, so that a machine whose other load comes and goes weighs on each alike: for
`--rounds` rounds, every cell (each concurrency with one flight a request, then c=16 with 100
flights a request) is measured on each server in turn (wrk: 1 thread, closed loop, on the same
machine); a cell's figures are the medians of its rounds.
Results: `<out>/results/side_by_side.json` and the tables printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
import uuid
from contextlib import ExitStack
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
NAIVE = "benchmarks.serving.naive_service:NaiveDelayService"
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


def _home(args: argparse.Namespace, name: str, challenger: bool) -> Path:
    home: Path = args.out / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("prediction_log", "serve-*"))
    _lineup(home, json.loads((home / "bentoml" / "aliases.json").read_text()), challenger)
    return home


def _env(home: Path, workers: int) -> dict[str, str]:
    return {"FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(home / "bentoml"),
            "FLIGHTPATH_AUTH": "off", "FLIGHTPATH_RATE_LIMIT": "1000000000",
            "FLIGHTPATH_WORKERS": str(workers),
            "FLIGHTPATH_FEAST_PROFILE": "feature_store.yaml"}  # fmt: skip


def _naive_env(home: Path) -> dict[str, str]:
    """The naive service as the tutorial leaves it: BentoML's defaults, one worker."""
    return {"FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: Path = args.out
    plain, shadowed = _home(args, "home", False), _home(args, "home-shadow", True)
    single, batch = _bodies(plain, args.day, out)
    redis = redis_store(f"flightpath_side_{uuid.uuid4().hex[:8]}")
    servers = [
        Server("constant-bentoml", CONSTANT, _env(plain, args.workers)),
        Server("ours-sqlite", OURS, _env(plain, args.workers)),
        Server("ours-sqlite+shadow", OURS, _env(shadowed, args.workers)),
        Server("ours-redis", OURS, {**_env(plain, args.workers), **redis.env,
                                    "FLIGHTPATH_FEAST_PROFILE": redis.profile}),
        Server("naive-redis", NAIVE, {**_naive_env(plain), **redis.env,
                                      "FLIGHTPATH_FEAST_PROFILE": redis.profile}),
    ]  # fmt: skip
    cells = [(1, c) for c in args.concurrency] + [(BATCH, BATCH_CONNECTIONS)]
    rounds: dict[str, list[list[dict[str, Any]]]] = {s.name: [[] for _ in cells] for s in servers}
    result: dict[str, Any] = {"settings": vars(args) | {"out": str(out), "home": str(args.home)},
                              "uptime": [_uptime()]}  # fmt: skip
    began = time.perf_counter()
    try:
        result["redis_rows"] = prepare_redis(plain, redis, args.day)
        with ExitStack() as stack:
            running = [stack.enter_context(started(server, out)) for server in servers]
            for each in running:
                load.measure(each, single, 16, args.warmup)
            for round_ in range(args.rounds):
                for i, (flights, connections) in enumerate(cells):
                    bodies = single if flights == 1 else batch
                    turn = (round_ + i) % len(servers)  # who goes first rotates
                    for server, each in (
                        list(zip(servers, running, strict=True))[turn:]
                        + list(zip(servers, running, strict=True))[:turn]
                    ):
                        cell = load.measure(each, bodies, connections, args.seconds)
                        rounds[server.name][i].append({"flights": flights, **cell})
                result["uptime"].append(_uptime())
                print(f"round {round_ + 1}: {time.perf_counter() - began:.0f} s", flush=True)
    finally:
        from benchmarks.serving.homes import drop_redis

        drop_redis(plain, redis)
    result["rounds"] = rounds
    result["servers"] = {name: {"cells": [_median(r) for r in per_cell]}
                         for name, per_cell in rounds.items()}  # fmt: skip
    result["seconds"] = time.perf_counter() - began
    return result


def _median(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A cell's rounds as one: the median of each figure, errors summed, the cores' medians."""
    keys = ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
    merged = {**cells[0], **{k: statistics.median(c[k] for c in cells) for k in keys}}
    merged["errors"] = sum(c["errors"] for c in cells)
    merged["cores"] = {k: statistics.median(c["cores"][k] for c in cells)
                       for k in cells[0]["cores"]}  # fmt: skip
    return merged


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def markdown(result: dict[str, Any]) -> str:
    servers = result["servers"]
    rows = [
        {"server": name, "flights/request": c["flights"], "c": c["connections"],
         "rps": f"{c['rps']:,.0f}", "flights/s": f"{c['rps'] * c['flights']:,.0f}",
         "p50 ms": f"{c['p50_ms']:.1f}", "p99 ms": f"{c['p99_ms']:.1f}",
         "server CPU ms/request": f"{c['server_cpu_ms_per_request']:.2f}", "errors": c["errors"],
         "other cores busy": f"{_others(c):.2f}"}
        for name, server in servers.items() for c in server["cells"]
    ]  # fmt: skip
    ratios = []
    for i, cell in enumerate(servers["constant-bentoml"]["cells"]):

        def rps(name: str, i: int = i) -> float:
            return float(servers[name]["cells"][i]["rps"])

        def p99(name: str, i: int = i) -> float:
            return float(servers[name]["cells"][i]["p99_ms"])

        def per_cpu(name: str, i: int = i) -> float:  # requests a CPU-second: capacity
            return 1000 / float(servers[name]["cells"][i]["server_cpu_ms_per_request"])

        ratios.append({
            "flights/request": cell["flights"], "c": cell["connections"],
            "shadow ÷ none, rps": _ratio(rps, "ours-sqlite+shadow", "ours-sqlite"),
            "shadow ÷ none, per CPU-s": _ratio(per_cpu, "ours-sqlite+shadow", "ours-sqlite"),
            "SQLite ÷ constant, rps": _ratio(rps, "ours-sqlite", "constant-bentoml"),
            "SQLite ÷ constant, per CPU-s": _ratio(per_cpu, "ours-sqlite", "constant-bentoml"),
            "Redis ÷ constant, rps": _ratio(rps, "ours-redis", "constant-bentoml"),
            "Redis ÷ constant, per CPU-s": _ratio(per_cpu, "ours-redis", "constant-bentoml"),
            "Redis p99 ÷ naive p99": _ratio(p99, "ours-redis", "naive-redis"),
        })  # fmt: skip
    return table(rows) + "\n\n" + table(ratios)


def _ratio(figure: Any, ours: str, other: str) -> str:
    return f"{figure(ours) / figure(other):.2f}"


def _others(cell: dict[str, Any]) -> float:
    """Cores used by processes other than the server, wrk and Redis during the cell."""
    cores = cell["cores"]
    return float(max(0.0, cores["machine"] - cores["server"] - cores["wrk"] - cores["redis"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 1, 17))
    parser.add_argument("--seconds", type=float, default=5, help="per cell and round")
    parser.add_argument("--warmup", type=float, default=2, help="per server, at c=16")
    parser.add_argument("--rounds", type=int, default=3)
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
