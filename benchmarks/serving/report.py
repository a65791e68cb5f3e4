"""The goals checked, and the Markdown tables printed at the end of a run."""

from __future__ import annotations

from typing import Any

from benchmarks.common import table

GOAL_CONCURRENCY = 16
PAIRS = [  # (ours, naive) on the same store
    ("ours-sqlite", "naive-sqlite"),
    ("ours-redis", "naive-redis"),
    ("whatif-redis", "naive-redis"),
]
NOISY_CORES = 0.2  # other processes busy on more than this during a cell: suspect


def _cell(result: dict[str, Any], server: str, connections: int) -> dict[str, Any] | None:
    cells = result["servers"].get(server, {}).get("cells", [])
    return next((c for c in cells if c["connections"] == connections), None)


def others(cell: dict[str, Any]) -> float:
    """Cores used by processes other than the server, wrk and Redis during the cell."""
    cores = cell["cores"]
    return max(0.0, cores["machine"] - cores["server"] - cores["wrk"] - cores["redis"])


def summary(result: dict[str, Any]) -> dict[str, Any]:
    goals = []
    ceiling = _cell(result, "ceiling", GOAL_CONCURRENCY)
    framework = _cell(result, "ceiling-bentoml", GOAL_CONCURRENCY)
    for ours_name, naive_name in PAIRS:
        ours = _cell(result, ours_name, GOAL_CONCURRENCY)
        naive = _cell(result, naive_name, GOAL_CONCURRENCY)
        if not ours or not naive or not ceiling:
            continue
        goals.append({
            "ours": ours_name, "naive": naive_name,
            "rps_ours_over_naive": ours["rps"] / naive["rps"],
            "p99_ours_over_naive": ours["p99_ms"] / naive["p99_ms"],
            "ours_share_of_ceiling": ours["rps"] / ceiling["rps"],
            "ours_share_of_bentoml_ceiling": ours["rps"] / framework["rps"] if framework else None,
            "rps_goal_met": ours["rps"] >= 3 * naive["rps"],
            "p99_goal_met": ours["p99_ms"] <= naive["p99_ms"] / 5,
            "ceiling_goal_met": ours["rps"] >= 0.7 * ceiling["rps"],
        })  # fmt: skip
    reads = result["in_process"]["redis"]["feature_read"]
    sqlite_reads = result["in_process"]["sqlite"]["feature_read"]
    noisy = [f"{name} c={c['connections']}: {others(c):.2f} cores"
             for name, server in result["servers"].items() for c in server["cells"]
             if others(c) > NOISY_CORES]  # fmt: skip
    reference = {i: a["probability"] for i, a in
                 enumerate(result["servers"]["ours-sqlite"]["answers"])}  # fmt: skip
    agreement = {}
    for name, server in result["servers"].items():
        if name.startswith("ceiling"):
            continue
        got = server["answers"]
        diffs = [abs(a["probability"] - reference[i]) for i, a in enumerate(got)
                 if a["probability"] is not None and reference.get(i) is not None]  # fmt: skip
        agreement[name] = {
            "not_200": sum(a["status"] != 200 for a in got),
            "degraded": sum(bool(a["degraded"]) for a in got),
            "max_abs_diff_vs_ours_sqlite": max(diffs) if diffs else None,
        }
    ours = _cell(result, "ours-redis", GOAL_CONCURRENCY)
    profile = result.get("worker_profile")
    scale = (1e3 * ours["server_cpu_ms_per_request"] / profile["total_us_per_request"]
             if ours and profile else None)  # fmt: skip
    return {
        "goal_c16": goals,
        "profile_scale": scale,  # unprofiled CPU per request / profiled: to estimate real costs
        "feature_read_p99_ms": {
            "sqlite": sqlite_reads["service"]["p99_ms"],
            **{f"redis {k}": v["p99_ms"] for k, v in reads.items()},
        },
        "feature_read_goal_met_redis": reads["service"]["p99_ms"] <= 2.0,
        "noisy_cells": noisy,
        "answers": agreement,
    }


def markdown(result: dict[str, Any]) -> str:
    out = ["## Serving under load (wrk, 1 thread, on the same 2 cores as the server)"]
    rows = []
    for name, server in result["servers"].items():
        for c in server["cells"]:
            cores = c["cores"]
            rows.append({"server": name, "c": c["connections"], "rps": c["rps"],
                         "p50 ms": c["p50_ms"], "p99 ms": c["p99_ms"], "errors": c["errors"],
                         "server CPU ms/req": c["server_cpu_ms_per_request"],
                         "cores server/wrk/redis/others": f"{cores['server']:.2f}/"
                         f"{cores['wrk']:.2f}/{cores['redis']:.2f}/{others(c):.2f}"})  # fmt: skip
    out += [table(rows), "", "## Goals at c=16 (ours >= 3 x naive rps, p99 <= 1/5, >= 70% ceiling)"]
    goals = [{k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in g.items()}
             for g in result["summary"]["goal_c16"]]  # fmt: skip
    out.append(table(goals) if goals else "-")
    out += ["", "## In process, c=1: online feature read (one flight's keys, five views)"]
    reads = []
    for store, measured in result["in_process"].items():
        for way, r in measured["feature_read"].items():
            grown = sum(r.get("fields_added_per_view", {}).values())
            reads.append({"store": store, "way": way, "n": r["n"], "p50 ms": r["p50_ms"],
                          "p99 ms": r["p99_ms"], "mean ms": r["mean_ms"],
                          "fields added": grown})  # fmt: skip
    out.append(table(reads))
    out += ["", "## In process, c=1: stages of one request (each timed alone)"]
    stages = []
    for store, measured in result["in_process"].items():
        for stage, r in measured["stages"].items():
            stages.append({"store": store, "stage": stage, "p50 ms": r["p50_ms"],
                           "p99 ms": r["p99_ms"], "mean ms": r["mean_ms"]})  # fmt: skip
        context = measured["schedule_context"]
        for way in ("schedule_context_of", "one_row_dataframe"):
            stages.append({"store": store, "stage": f"schedule context: {way}",
                           "p50 ms": context[way]["p50_ms"], "p99 ms": context[way]["p99_ms"],
                           "mean ms": context[way]["mean_ms"]})  # fmt: skip
    out.append(table(stages))
    stalls = [{"server": name, "c": c, "full GCs": cell["gc2"]["count"],
               "GC ms (max)": f"{cell['gc2']['total_ms']:.0f} ({cell['gc2']['max_ms']:.0f})",
               "log flushes (in request thread)":
                   f"{cell['flush']['count']} ({cell['flush']['in_request_thread']})",
               "flush ms (max)": f"{cell['flush']['total_ms']:.0f} ({cell['flush']['max_ms']:.0f})"}
              for name, server in [*result["servers"].items(),
                                   ("ours-redis (profiled)", result.get("worker_profile", {}))]
              for c, cell in server.get("stalls", {}).items()]  # fmt: skip
    if stalls:
        out += ["", "## Stop-the-world events during the cells (watched servers)", table(stalls)]
    profile = result.get("worker_profile")
    if profile:
        total = profile["total_us_per_request"]
        out += ["", "## Worker profile, ours on Redis at c=16 (cProfile, thread CPU clock): "
                f"{total:,.0f} µs/request under the profiler"]  # fmt: skip
        scale = result["summary"]["profile_scale"] or 0.0
        threads = profile["threads_us_per_request"]
        out.append(
            "Threads, µs/request under the profiler: "
            + ", ".join(
                f"{name.rsplit('-', 1)[0]} {us:,.0f}" for name, us in threads.items() if us >= 1
            )
        )
        out += ["", table(_rows(profile["by_library"][:12], "library", scale)), ""]
        out += [table(_rows(profile["top_self"], "function", scale)), ""]
        out += [table(_rows(profile["our_code_cumulative"], "function", scale))]
    return "\n".join(out)


def _rows(rows: list[dict[str, Any]], key: str, scale: float) -> list[dict[str, Any]]:
    """`scale` turns profiled µs into an estimate of unprofiled ones (ours-redis, c=16)."""
    return [{key: r[key], "µs/request (profiled)": r["us_per_request"],
             "est. µs/request unprofiled": r["us_per_request"] * scale,
             "share": f"{r['share']:.1%}"} for r in rows]  # fmt: skip
