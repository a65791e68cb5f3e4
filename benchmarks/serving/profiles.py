"""cProfile statistics summed up per request: top functions, our code's calls, libraries."""

from __future__ import annotations

import cProfile
import marshal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OURS = ("bentos", "feature_repo", "flightpath", "benchmarks")
ALIASES = {"_bentoml_impl": "bentoml", "_bentoml_sdk": "bentoml"}
Func = tuple[str, int, str]
Entry = tuple[int, int, float, float, dict[Func, tuple[int, int, float, float]]]
Stats = dict[Func, Entry]


def label(func: Func) -> str:
    path, line, name = func
    if path == "~":
        return name
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})"


def package(path: str) -> str | None:
    if path == "~":
        return None
    if "site-packages/" in path:
        top = path.split("site-packages/", 1)[1].split("/")[0].removesuffix(".py")
        return ALIASES.get(top, top)
    if path.startswith(f"{ROOT}/"):
        return path.removeprefix(f"{ROOT}/").split("/")[0]
    if "/lib/python3" in path or path.startswith("<frozen"):
        module = path.split("/lib/python3.11/", 1)[-1].split("/")[0].removesuffix(".py")
        return f"stdlib {module}"
    return "other"


def library(func: Func, stats: Stats, depth: int = 0) -> str:
    """A function's package; a built-in counts for the package of its main caller."""
    found = package(func[0])
    if found is not None:
        return found
    callers = stats.get(func, (0, 0, 0.0, 0.0, {}))[4]
    if not callers or depth > 5:
        return "builtins"
    caller = max(callers, key=lambda c: callers[c][3])
    return library(caller, stats, depth + 1)


def summarize(stats: Stats, requests: int, top: int = 15) -> dict[str, Any]:
    """Per request, in microseconds: total, top self time, our code's calls, by library."""
    total = sum(entry[2] for entry in stats.values()) or 1e-12

    def row(func: Func, seconds: float) -> dict[str, Any]:
        return {"function": label(func), "us_per_request": 1e6 * seconds / requests,
                "share": seconds / total}  # fmt: skip

    by_self = sorted(stats, key=lambda f: -stats[f][2])[:top]
    ours = {f for f in stats if package(f[0]) in OURS}
    called = [f for f in stats if f in ours or any(c in ours for c in stats[f][4])]
    by_cumulative = sorted(called, key=lambda f: -stats[f][3])[: top + 5]
    libraries: dict[str, float] = defaultdict(float)
    for func, entry in stats.items():
        libraries[library(func, stats)] += entry[2]
    return {
        "requests": requests,
        "total_us_per_request": 1e6 * total / requests,
        "top_self": [row(f, stats[f][2]) for f in by_self],
        "our_code_cumulative": [row(f, stats[f][3]) for f in by_cumulative],
        "by_library": [
            {"library": name, "us_per_request": 1e6 * seconds / requests, "share": seconds / total}
            for name, seconds in sorted(libraries.items(), key=lambda kv: -kv[1])
        ][:top],
    }


def summarize_profile(profiler: cProfile.Profile, requests: int) -> dict[str, Any]:
    profiler.create_stats()
    stats: Stats = profiler.stats  # type: ignore[assignment]
    return summarize(stats, requests)


# --- the worker's profiles (benchmarks/serving/profiled.py) ---


def snapshot(folder: Path, name: str, pid: int, timeout: float = 60) -> None:
    """Ask every profiled process for its statistics so far; wait for the worker `pid`'s."""
    (folder / f"snapshot-{name}").touch()
    deadline = time.monotonic() + timeout
    while not (folder / f"done-{name}-{pid}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {pid} wrote no profile snapshot {name!r}")
        time.sleep(0.1)


def load(folder: Path, name: str, pid: int) -> dict[str, Stats]:
    prefix = f"{name}-{pid}-"
    return {path.stem.removeprefix(prefix): marshal.loads(path.read_bytes())
            for path in folder.glob(f"{prefix}*.prof")}  # fmt: skip


def window(before: dict[str, Stats], after: dict[str, Stats]) -> dict[str, Stats]:
    """What each thread spent between two snapshots (callers as of the second)."""
    spent: dict[str, Stats] = {}
    for thread, stats in after.items():
        earlier = before.get(thread, {})
        diff: Stats = {}
        for func, (cc, nc, tt, ct, callers) in stats.items():
            was = earlier.get(func, (0, 0, 0.0, 0.0, {}))
            if nc - was[1] > 0 or tt - was[2] > 1e-9:
                diff[func] = (cc - was[0], nc - was[1], tt - was[2], ct - was[3], callers)
        spent[thread] = diff
    return spent


def merged(threads: dict[str, Stats]) -> Stats:
    out: Stats = {}
    for stats in threads.values():
        for func, (cc, nc, tt, ct, callers) in stats.items():
            if func in out:
                a = out[func]
                out[func] = (a[0] + cc, a[1] + nc, a[2] + tt, a[3] + ct, {**a[4], **callers})
            else:
                out[func] = (cc, nc, tt, ct, dict(callers))
    return out


def summarize_worker(threads: dict[str, Stats], requests: int) -> dict[str, Any]:
    result = summarize(merged(threads), requests)
    result["threads_us_per_request"] = {
        thread: 1e6 * sum(e[2] for e in stats.values()) / requests
        for thread, stats in sorted(threads.items())
    }
    return result
