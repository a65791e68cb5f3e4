"""A soak of the prediction service: a fixed request rate near 70% of capacity for 10 minutes.

    python -m benchmarks.soak --home .flightpath [--day 2013-01-31] [--minutes 10] [--share 0.7]

The home is a data home with a champion and a filled online store (what `make demo` leaves).
Capacity is measured first with wrk (closed loop, c=16, 20 s); the soak then sends requests on
a fixed schedule (open loop: a slow answer does not slow the sender, and each latency counts
from the request's scheduled instant, so queueing shows). It reports errors, p99 per minute
(first against last), the server's RSS after the first minute against the end, and whether
every answered request is in the prediction log once the service has stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import numpy as np

from apps.loop import request_bodies
from benchmarks.serving import load
from benchmarks.serving.servers import Running, Server, started
from flightpath.home import bentoml_home
from resources.lake import Lake

SERVICE = "bentos.service:DelayService"
CONNECTIONS = 32  # enough open connections that the schedule, not the pool, sets the rate


def bodies_of(home: Path, day: date, count: int) -> list[dict[str, Any]]:
    """`count` real scheduled flights of `day`, one per request body."""
    flights = Lake(root=str(home / "lake")).read_partition("flights", day)
    return [{"flights": [b]} for b in request_bodies(flights.dropna(subset=["tailnum"]))][:count]


def capacity(running: Running, bodies: list[dict[str, Any]]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as out:
        out.writelines(json.dumps(body) + "\n" for body in bodies)
    return float(load.measure(running, Path(out.name), 16, 20)["rps"])


async def soak(
    url: str, bodies: list[dict[str, Any]], rate: float, seconds: float, running: Running
) -> dict[str, Any]:
    """Send `rate` requests a second for `seconds`; sample the server's RSS every 10 s."""
    latencies: list[tuple[float, float, int, str | None]] = []  # sent at, latency, status, id
    rss: list[tuple[float, int]] = []
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(k: int, scheduled: float) -> None:
            status, request_id = 0, None
            try:
                async with session.post(url + "/predict", json=bodies[k % len(bodies)]) as answer:
                    status = answer.status
                    if status == 200:
                        request_id = (await answer.json())["request_id"]
                    else:
                        await answer.read()
            except (aiohttp.ClientError, TimeoutError):
                status = -1
            latencies.append((scheduled - start, time.perf_counter() - scheduled, status,
                              request_id))  # fmt: skip

        start = time.perf_counter()
        tasks, k, next_sample = [], 0, start
        while (now := time.perf_counter()) < start + seconds:
            if now >= next_sample:
                rss.append((now - start, sum(p.memory_info().rss for p in running.tree())))
                next_sample += 10
            due = start + k / rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            tasks.append(asyncio.create_task(one(k, due)))
            k += 1
        await asyncio.gather(*tasks)
    return {"latencies": latencies, "rss": rss}


def summary(raw: dict[str, Any], seconds: float) -> dict[str, Any]:
    lat = raw["latencies"]
    minutes = int(seconds // 60)
    per_minute = []
    for m in range(minutes):
        window = [x[1] * 1000 for x in lat if m * 60 <= x[0] < (m + 1) * 60]
        per_minute.append(round(float(np.percentile(window, 99)), 2) if window else None)
    rss = raw["rss"]
    after_first = next(v for t, v in rss if t >= 60) if seconds > 60 else rss[0][1]
    errors = [x for x in lat if x[2] != 200]
    return {
        "requests": len(lat),
        "errors": len(errors),
        "statuses": sorted({x[2] for x in errors}),
        "p50_ms": round(float(np.percentile([x[1] * 1000 for x in lat], 50)), 2),
        "p99_ms": round(float(np.percentile([x[1] * 1000 for x in lat], 99)), 2),
        "p99_ms_per_minute": per_minute,
        "rss_mib_after_first_minute": round(after_first / 2**20, 1),
        "rss_mib_at_end": round(rss[-1][1] / 2**20, 1),
        "rss_growth": round(rss[-1][1] / after_first - 1, 4),
    }


def logged_request_ids(home: Path) -> set[str]:
    folder = home / "lake" / "prediction_log"
    found = duckdb.sql(
        f"SELECT DISTINCT request_id FROM read_parquet('{folder}/**/*.parquet') "
        "WHERE role IN ('champion', 'canary')"
    ).fetchall()
    return {row[0] for row in found}


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".flightpath"))
    parser.add_argument("--day", type=date.fromisoformat, default=date(2013, 1, 31))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--share", type=float, default=0.7, help="share of measured capacity")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/results/soak.json"))
    args = parser.parse_args()
    home = args.home.resolve()
    bodies = bodies_of(home, args.day, 300)
    env = {"FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(bentoml_home(home)),
           "FLIGHTPATH_AUTH": "off", "FLIGHTPATH_RATE_LIMIT": "1000000000"}  # fmt: skip
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    seconds = args.minutes * 60
    with started(Server("ours-soak", SERVICE, env), logs) as running:
        measured = capacity(running, bodies)
        rate = args.share * measured
        print(f"capacity {measured:.0f} rps at c=16; soaking at {rate:.0f} rps for {seconds:.0f} s")
        raw = asyncio.run(soak(running.url, bodies, rate, seconds, running))
    answered = {x[3] for x in raw["latencies"] if x[3] is not None}
    missing = answered - logged_request_ids(home)
    result = {
        "command": "python -m benchmarks.soak "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k != "out"),
        "commit": _commit(),
        "capacity_rps_c16": round(measured, 1),
        "rate_rps": round(rate, 1),
        **summary(raw, seconds),
        "answered_requests": len(answered),
        "answered_but_not_logged": len(missing),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
