"""Shared helpers: data locations, one measurement per subprocess, peak RSS, the machine."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/bench"))
DEFAULT_LANDING = Path(os.environ.get("BENCH_LANDING", "/tmp/fpdev/landing"))
RESULT_PREFIX = "BENCH_RESULT "


def home(data: Path, scale: int = 1) -> Path:
    """The data home of the real lake (scale 1) or of a scaled one: `<data>/real`, `<data>/x30`."""
    return data / ("real" if scale == 1 else f"x{scale}")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """The child's answer to `measure`: one tagged JSON line on stdout."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def measure(module: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run `python -m module --child args...` in a fresh process and return what it `emit`ted."""
    command = [sys.executable, "-m", module, "--child", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return result


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory_gib": f"{memory_kib / 2**20:.1f}",
        "python": platform.python_version(),
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
    }


def save(data: Path, name: str, result: dict[str, Any]) -> Path:
    path = data / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, default=str))
    return path


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of `rows` (the keys of the first row are the columns)."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
