"""Inside the service's code path, one request at a time (c=1), in a fresh process.

    python -m benchmarks.serving.inprocess --child HOME BODIES STORE [PROJECT]

Feature reads: the service's `OnlineFeatures.read([one flight's keys])`, `--reads` times (and
whether its column lists grew meanwhile; against the read per view: online_reads.py). Stages
of a request, each timed on its own per body: pydantic validation of the body, the feature read,
`_features` (read + schedule context + assembly), `spec.rows`, the champion's
`predict(num_threads=1)`, the whole handler `predict(...)`, the JSON answer. The service
instance is the real class (`DelayService.inner()`) over the home's lineup. The schedule
context: the service's `schedule_context_of` against `schedule_context` on a one-row DataFrame
(what Feast's on-demand view runs), values compared. Then cProfile over `--profile` handler
calls.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import emit
from benchmarks.serving.profiles import summarize_profile


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}  # fmt: skip


def clock(samples: list[int], call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(*args, **kwargs)`, its nanoseconds appended to `samples`."""
    started = time.perf_counter_ns()
    result = call(*args, **kwargs)
    samples.append(time.perf_counter_ns() - started)
    return result


def keys_of(body: dict[str, Any]) -> list[dict[str, str]]:
    return [{"origin": f["origin"], "carrier": f["carrier"], "route": f"{f['origin']}-{f['dest']}",
             "tailnum": f["tailnum"]} for f in body["flights"]]  # fmt: skip


def feature_reads(
    read: Callable[..., Any], bodies: list[dict[str, Any]], reads: int
) -> dict[str, float]:
    for body in bodies[:200]:  # warm: connections, caches
        read(keys_of(body))
    samples: list[int] = []
    for i in range(reads):
        clock(samples, read, keys_of(bodies[i % len(bodies)]))
    return percentiles(samples)


def service_reads(service: Any, bodies: list[dict[str, Any]], reads: int) -> dict[str, Any]:
    """The service's read (every view in one round trip: bentos/view_reads.py)."""
    columns = {name: list(c) for name, c in service.features.columns.items()}
    result: dict[str, Any] = {"service": feature_reads(service.features.read, bodies, reads)}
    grown = {name: len(c) - len(columns[name]) for name, c in service.features.columns.items()}
    result["service"]["fields_added_per_view"] = grown  # Feast's Redis store appends to lists
    return result


def stages(service: Any, bodies: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    from bentos.schema import Flight
    from bentos.service import _predict

    served = service.models.lineup.champion
    names = ["validate", "read", "features", "rows", "predict", "handler", "answer_json"]
    samples: dict[str, list[int]] = {name: [] for name in names}

    def validate(raw: str) -> list[Flight]:
        return [Flight.model_validate(f) for f in json.loads(raw)["flights"]]

    for i in range(rounds):
        raw = json.dumps(bodies[i % len(bodies)])
        flights = clock(samples["validate"], validate, raw)
        clock(samples["read"], service.features.read, keys_of(bodies[i % len(bodies)]))
        records, *_ = clock(samples["features"], service._features, flights)
        matrix = clock(samples["rows"], served.model.spec.rows, records)
        clock(samples["predict"], _predict, served, matrix)
        answer = clock(samples["handler"], service.predict, flights=flights)
        clock(samples["answer_json"], answer.model_dump_json)
    # the first tenth is left out: warm-up
    return {name: percentiles(values[len(values) // 10 :]) for name, values in samples.items()}


def context_ways(service: Any, bodies: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """The service's per-flight rule against the DataFrame path of the on-demand view."""
    import pandas as pd

    from feature_repo.transforms import schedule_context, schedule_context_of

    def one_row_frame(departure: datetime, previous: datetime | None) -> dict[str, Any]:
        frame = pd.DataFrame(
            {
                "sched_dep_utc": pd.to_datetime([departure], utc=True),
                "tail_prev_arrival_utc": pd.to_datetime([previous], utc=True),
            }
        )
        return dict(schedule_context(frame).to_dict("records")[0])

    frame_ns: list[int] = []
    rule_ns: list[int] = []
    differ = 0
    for i in range(rounds):
        flight = bodies[i % len(bodies)]["flights"][0]
        departure = datetime.fromisoformat(flight["sched_dep"]).astimezone(UTC)
        aircraft = service.features.read(keys_of(bodies[i % len(bodies)]))[0]["aircraft"]
        previous = aircraft.values.get("tail_prev_arrival_utc")
        slow = clock(frame_ns, one_row_frame, departure, previous)
        fast = clock(rule_ns, schedule_context_of, departure, previous)
        differ += any(not (a == b or (a != a and b != b)) for a, b in
                      ((fast[k], slow[k]) for k in fast))  # fmt: skip
    return {"schedule_context_of": percentiles(rule_ns),
            "one_row_dataframe": percentiles(frame_ns), "flights_that_differ": differ}  # fmt: skip


def child(home: Path, bodies_file: Path, store: str, project: str | None, reads: int,
          rounds: int, profile_calls: int) -> dict[str, Any]:  # fmt: skip
    from benchmarks.serving.homes import patched_env, redis_store, sqlite_store

    settings = redis_store(project or "flightpath_bench") if store == "redis" else sqlite_store()
    bodies = [json.loads(line) for line in bodies_file.read_text().splitlines()]
    env = {**settings.env, "FLIGHTPATH_HOME": str(home), "FLIGHTPATH_AUTH": "off",
           "FLIGHTPATH_FEAST_PROFILE": settings.profile}  # fmt: skip
    with patched_env(env):
        from bentos.schema import Flight
        from bentos.service import DelayService

        service = DelayService.inner()  # type: ignore[attr-defined]
        try:
            lineup = service.models.lineup
            result: dict[str, Any] = {
                "store": store,
                "lineup": [lineup.champion.tag, lineup.challenger and lineup.challenger.tag],
                "feature_read": service_reads(service, bodies, reads),
                "stages": stages(service, bodies, rounds),
                "schedule_context": context_ways(service, bodies, rounds),
            }
            flights = [[Flight.model_validate(f) for f in b["flights"]] for b in bodies]
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(profile_calls):
                service.predict(flights=flights[i % len(flights)]).model_dump_json()
            profiler.disable()
            result["handler_profile"] = summarize_profile(profiler, profile_calls)
        finally:
            service.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("home", type=Path)
    parser.add_argument("bodies", type=Path)
    parser.add_argument("store", choices=["sqlite", "redis"])
    parser.add_argument("project", nargs="?")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--profile", type=int, default=1500)
    args = parser.parse_args()
    emit(child(args.home, args.bodies, args.store, args.project, args.reads, args.rounds,
               args.profile))  # fmt: skip


if __name__ == "__main__":
    main()
