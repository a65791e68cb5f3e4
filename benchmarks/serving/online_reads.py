"""The online read in process on real Redis: one round trip per view against one for all views.

    python -m benchmarks.serving.online_reads --home HOME [--day 2013-01-17] [--reads 2000]

HOME: a data home with Feast applied and the day's `online_snapshots/*` in its lake (the
serving benchmark's `<data>/serving_home`, or the tests' feature home). The day's rows go into
Redis (127.0.0.1:6379) under a Feast project of this run's own (registry in its own Postgres
database), both dropped at the end. Cells: requests of 1 and of 100 real flights of the day;
`OnlineFeatures.read` as the service does it (`read_views`: one pipeline) and as it was
(`read_per_view`: one `online_read` per view), and the floor under both (the same HMGETs in the
same pipeline, replies not decoded), interleaved read by read so all see the same machine.
p50/p99 per cell, the client's CPU per read (this thread's, waits excluded), and the values
compared between the first two.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import machine
from benchmarks.serving.homes import POSTGRES, patched_env, redis_store
from benchmarks.serving.inprocess import clock, keys_of, percentiles
from bentos.online import VIEWS, OnlineFeatures
from bentos.view_reads import read_per_view, redis_commands
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake


class PerView(OnlineFeatures):
    """The read as it was before issue 14.1: one store round trip per view."""

    reader = staticmethod(read_per_view)


FLOOR = "the round trip alone (floor)"


class RoundTripOnly:
    """The floor under `features`: the same HMGETs in the same one pipeline, replies not decoded.
    It reads through the same view objects (Feast's views compare slowly when they are not)."""

    def __init__(self, features: OnlineFeatures) -> None:
        self.features = features

    def read(self, requests: list[dict[str, str]]) -> Any:
        store = self.features.store
        online = store.provider.online_store
        commands, _ = redis_commands(online, store, self.features.view_reads(requests)[1])
        return online._read_hash_fields(store.config, commands)


def bodies_of(home: Path, day: date, size: int, count: int) -> list[dict[str, Any]]:
    """`count` requests of `size` real flights of `day` each (rotating through the day)."""
    flights = Lake(root=str(home / "lake")).read_partition("flights", day)
    rows = flights.dropna(subset=["tailnum"])[["origin", "dest", "carrier", "tailnum"]]
    records = rows.to_dict("records")
    return [
        {"flights": [records[(i * size + j) % len(records)] for j in range(size)]}
        for i in range(count)
    ]


def run(home: Path, day: date, reads: int) -> dict[str, Any]:
    project = f"flightpath_bench_rtt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{project}"')
    store_of = redis_store(project)
    store = None
    try:
        resource = FeatureStoreResource(home=str(home), profile=store_of.profile, project=project)
        with patched_env(store_of.env):
            resource.apply()
        store = store_of.open(home)
        lake = Lake(root=str(home / "lake"))
        for view in VIEWS:
            store.write_to_online_store(view, lake.read_partition(f"online_snapshots/{view}", day))
        ours = OnlineFeatures(store)
        readers = {"one round trip": ours, "per view": PerView(store), FLOOR: RoundTripOnly(ours)}
        cells = []
        for size in (1, 100):
            bodies = bodies_of(home, day, size, 300)
            for body in bodies[:50]:  # warm: connections, caches
                for reader in readers.values():
                    reader.read(keys_of(body))
            samples: dict[str, list[int]] = {name: [] for name in readers}
            cpu_ns = dict.fromkeys(readers, 0)  # this thread's CPU: the client's work, not waits
            same = True
            for i in range(reads):
                keys = keys_of(bodies[i % len(bodies)])
                answers = []
                for name, reader in readers.items():
                    started = time.thread_time_ns()
                    answers.append(clock(samples[name], reader.read, keys))
                    cpu_ns[name] += time.thread_time_ns() - started
                same = same and answers[0] == answers[1]
            for name in readers:
                cells.append({"flights": size, "read": name,
                              "same_values": "n/a" if name == FLOOR else same,
                              "cpu_ms": cpu_ns[name] / reads / 1e6,
                              **percentiles(samples[name])})  # fmt: skip
        return {"day": str(day), "reads_per_cell": reads, "cells": cells, "machine": machine()}
    finally:
        if store is not None:
            store.teardown()  # this project's keys out of Redis
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{project}" WITH (FORCE)')


def markdown(result: dict[str, Any]) -> str:
    lines = ["| flights per request | read | p50 ms | p99 ms | mean ms | CPU ms | n | same "
             "values |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in result["cells"]:
        lines.append(f"| {c['flights']} | {c['read']} | {c['p50_ms']:.3f} | {c['p99_ms']:.3f} | "
                     f"{c['mean_ms']:.3f} | {c['cpu_ms']:.3f} | {c['n']} | "
                     f"{c['same_values']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 1, 17))
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args.home, args.day, args.reads)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=1, default=str))
    print(markdown(result))


if __name__ == "__main__":
    main()
