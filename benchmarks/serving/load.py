"""Closed-loop HTTP load with wrk (one thread, N connections) and where the CPU went meanwhile."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.serving.servers import Running

SCRIPT = Path(__file__).with_name("post.lua")
TICKS = os.sysconf("SC_CLK_TCK")


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def wrk(url: str, bodies: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = [wrk_path(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
               "-s", str(SCRIPT), url, "--", str(bodies)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    return result


def measure(running: Running, bodies: Path, connections: int, seconds: float) -> dict[str, Any]:
    """One cell: rps, latency percentiles (ms), errors, and cores used by each party."""
    redis = _redis_server()
    before = _cpu(running, redis)
    started = time.perf_counter()
    raw = wrk(running.url, bodies, connections, seconds)
    wall = time.perf_counter() - started
    after = _cpu(running, redis)
    used = {key: round((after[key] - before[key]) / wall, 2) for key in before}
    seconds_run = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "connections": connections,
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors + raw["status"],
        "non_2xx": raw["status"],
        "socket_errors": errors,
        "cores": used,  # CPU seconds per second of wall time during the cell
        "server_cpu_ms_per_request": 1000
        * (after["server"] - before["server"])
        / max(raw["requests"], 1),
    }


def _redis_server() -> psutil.Process | None:
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "redis-server":
            return process
    return None


def _cpu(running: Running, redis: psutil.Process | None) -> dict[str, float]:
    """Cumulative CPU seconds: the server's processes, this process's reaped children (wrk),
    the Redis server, and the whole machine (from /proc/stat)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4)) / TICKS
    redis_cpu = 0.0
    if redis is not None:
        try:
            times = redis.cpu_times()
            redis_cpu = times.user + times.system
        except psutil.Error:
            pass
    return {"server": running.cpu_seconds(), "wrk": children.ru_utime + children.ru_stime,
            "redis": redis_cpu, "machine": busy}  # fmt: skip
