"""Shared helpers: data locations, one measurement per subprocess, peak RSS, the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

DEFAULT_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/bench"))
DEFAULT_LANDING = Path(os.environ.get("BENCH_LANDING", "/tmp/fpdev/landing"))
RESULT_PREFIX = "BENCH_RESULT "
MAX_RSS_GIB = float(os.environ.get("BENCH_MAX_RSS_GIB", "16"))  # per measured process


def home(data: Path, scale: int = 1) -> Path:
    """The data home of the real lake (scale 1) or of a scaled one: `<data>/real`, `<data>/x30`."""
    return data / ("real" if scale == 1 else f"x{scale}")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far: VmHWM, which starts afresh at exec (the
    rusage maximum would also count the parent's memory at fork)."""
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def emit(result: dict[str, Any]) -> None:
    """The child's answer to `measure`: one tagged JSON line on stdout."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def measure(
    module: str, *args: str, timeout: float = 900, max_rss_gib: float = MAX_RSS_GIB
) -> dict[str, Any]:
    """Run `python -m module --child args...` in a fresh process and return what it `emit`ted.

    The child is stopped after `timeout` seconds or once its resident memory passes
    `max_rss_gib` (so that a run never makes the kernel kill someone else's process); the
    result then says why, with the seconds and the largest RSS seen.
    """
    command = [sys.executable, "-m", module, "--child", *args]
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        watched, seen, stopped = psutil.Process(child.pid), 0, ""
        while child.poll() is None:
            try:
                seen = max(seen, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            elapsed = time.perf_counter() - started
            if seen > max_rss_gib * 2**30 or elapsed > timeout:
                stopped = f"RSS over {max_rss_gib} GiB" if elapsed <= timeout else "time limit"
                child.kill()
                break
            time.sleep(0.2)
        stdout, stderr = child.communicate()
    seconds, seen_mib = time.perf_counter() - started, seen / 2**20
    if stopped or child.returncode:
        why = stopped or f"exit code {child.returncode}"
        return {"failed": f"stopped: {why} after {seconds:.0f} s (largest RSS seen {seen_mib:,.0f}"
                f" MiB)", "stderr_tail": stderr[-2000:]}  # fmt: skip
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} reported nothing:\n{stderr[-4000:]}")
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
        "git": _git_state(),
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
    }


def _git_state() -> str:
    """The commit measured, and whether product files differed from it (others edit too)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", ".", ":!benchmarks").splitlines()
    return git("rev-parse", "--short", "HEAD") + (
        f" + uncommitted: {'; '.join(dirty)}" if dirty else ""
    )


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


def compare_frames(left: pd.DataFrame, right: pd.DataFrame, key: str) -> dict[str, Any]:
    """Column by column, rows in the same order: values that differ (missing = missing), the
    largest numeric difference, and a few keys of differing rows."""
    same_keys = len(left) == len(right) and bool((left[key] == right[key]).all())
    common = sorted(set(left) & set(right)) if same_keys else []
    mismatches: dict[str, int] = {}
    max_diff, examples = 0.0, set()
    for column in common:
        a, b = _comparable(left[column]), _comparable(right[column])
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            a, b = a.astype("float64"), b.astype("float64")
            differ = ~((a == b) | (a.isna() & b.isna()))
            if differ.any():
                max_diff = max(max_diff, float((a - b).abs().max()))
        else:
            equal = (a.astype("string") == b.astype("string")).fillna(False)
            differ = ~(equal | (a.isna() & b.isna()))
        if differ.any():
            mismatches[column] = int(differ.sum())
            examples.update(left.loc[differ, key].head(3))
    return {
        "rows": [len(left), len(right)],
        "same_rows_in_same_order": same_keys,
        "columns_only_left": sorted(set(left) - set(right)),
        "columns_only_right": sorted(set(right) - set(left)),
        "columns_compared": len(common),
        "mismatched_values_by_column": mismatches,
        "max_abs_numeric_diff": max_diff,
        "example_keys": sorted(examples)[:5],
        "identical": same_keys and not mismatches and set(left) == set(right),
    }


def _comparable(values: pd.Series) -> pd.Series:
    """Timestamps as epoch microseconds (float, NaN for none); other columns as they are."""
    if pd.api.types.is_datetime64_any_dtype(values):
        when = pd.to_datetime(values, utc=True)
        return (when - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(microseconds=1)
    return values
