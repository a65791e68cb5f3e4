"""The same week in both profiles: each landed day ingested through to the online store.

    python -m benchmarks.profiles [--data /tmp/bench] [--days 7]

Embedded: one run per day in process (`execute_in_process`, as `flightpath ingest/features`
do) on the SQLite instance, the lake on local disk, Feast on SQLite. Production:
`python -m apps.production up`, then one run per day launched through the GraphQL API, each
run a process of its own (the code server's), on Postgres, the lake on the S3 server, Feast on
Redis with its registry on Postgres. Both start from the same reference tables and apply the
Feast registry once first (setup, timed apart). Days run one after the other.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, emit, measure, save, table
from flightpath.feed_calendar import FEED

REFERENCE = ("raw_airlines", "raw_airports", "raw_planes", "airports")
RUN_QUERY = """query ($id: ID!) { runOrError(runId: $id) { ... on Run { startTime endTime } } }"""


def prepare(root: Path, days: list[date]) -> Path:
    """A source home: the week landed and the reference tables materialised in its lake."""
    import dagster as dg

    from assets import ingestion, reference
    from flightpath.replay import replay
    from resources.lake import Lake
    from resources.landing import LandingZone

    source = root / "source"
    landing = LandingZone(root=str(source / "landing"))
    replay(landing, days[-1], progress=False)
    resources = {"landing": landing, "lake": Lake(root=str(source / "lake"))}
    assets = [ingestion.raw_planes, ingestion.raw_airports, ingestion.raw_airlines,
              reference.airports]  # fmt: skip
    assert dg.materialize(assets, resources=resources).success
    return source


def copy_home(source: Path, home: Path) -> None:
    """The landed days (not the reference files: no landing-sensor runs) and the reference
    tables, into `home`'s lake wherever the environment puts it."""
    import shutil

    from flightpath.storage import lake_location
    from resources.lake import Lake

    shutil.copytree(source / "landing" / "flights", home / "landing" / "flights")
    shutil.copytree(source / "landing" / "weather", home / "landing" / "weather")
    lake, origin = Lake(root=lake_location(home)), Lake(root=str(source / "lake"))
    for table_name in REFERENCE:
        lake.write_table(table_name, origin.read_table(table_name))


def embedded(home: Path, source: Path, days: list[str]) -> dict[str, Any]:
    """In this (fresh) process: the embedded profile's runs."""
    os.environ["FLIGHTPATH_HOME"] = str(home)
    os.environ.pop("FLIGHTPATH_STORAGE_URL", None)  # the embedded profile: local disk
    copy_home(source, home)
    import dagster as dg

    from apps.ingest import QUIET
    from pipelines.definitions import defs
    from pipelines.jobs import DAY_THROUGH_ONLINE
    from resources.home import dagster_home

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    assert (
        defs.get_job_def("feature_registry")
        .execute_in_process(instance=instance, run_config=QUIET)
        .success
    )
    setup = time.perf_counter() - started
    job, selection = defs.resolve_implicit_global_asset_job_def(), DAY_THROUGH_ONLINE
    per_day = []
    for day in days:
        started = time.perf_counter()
        result = job.execute_in_process(
            partition_key=day, instance=instance, run_config=QUIET,
            asset_selection=[dg.AssetKey(key) for key in selection],
        )  # fmt: skip
        assert result.success, day
        per_day.append(time.perf_counter() - started)
    return {"setup_s": setup, "per_day_s": per_day}


def production(home: Path, source: Path, days: list[str]) -> dict[str, Any]:
    """`prod-up` over `home`, a GraphQL-launched run per day, `prod-down`; everything removed."""
    from apps.service_process import free_port

    name = f"flightpath_prod_bench_{uuid.uuid4().hex[:6]}"
    os.environ.update({
        "FLIGHTPATH_HOME": str(home), "FLIGHTPATH_PROD_DB": name,
        **{f"FLIGHTPATH_PROD_{p}_PORT": str(free_port()) for p in ("UI", "CODE", "SERVICE", "S3")},
    })  # fmt: skip
    from dagster_graphql import DagsterGraphQLClient

    from apps.production.instance import drop_databases
    from apps.production.profile import Profile
    from pipelines.jobs import DAY_THROUGH_ONLINE

    profile = Profile.from_env()
    command = [sys.executable, "-m", "apps.production"]
    started = time.perf_counter()
    try:
        up = subprocess.run([*command, "up"], capture_output=True, text=True, timeout=900)
        assert up.returncode == 0, up.stdout + up.stderr
        up_s = time.perf_counter() - started
        os.environ.update(profile.environment())
        copy_home(source, home)
        client = DagsterGraphQLClient("127.0.0.1", port_number=profile.ui_port)
        started = time.perf_counter()
        _finish(client, client.submit_job_execution("feature_registry"))
        setup = time.perf_counter() - started
        per_day, in_run = [], []
        for day in days:
            started = time.perf_counter()
            run_id = client.submit_job_execution(
                "__ASSET_JOB", asset_selection=DAY_THROUGH_ONLINE,
                tags={"dagster/partition": day},
            )  # fmt: skip
            _finish(client, run_id)
            per_day.append(time.perf_counter() - started)
            run = client._execute(RUN_QUERY, {"id": run_id})["runOrError"]
            in_run.append(run["endTime"] - run["startTime"])
    finally:
        started = time.perf_counter()
        subprocess.run([*command, "down"], capture_output=True, text=True, timeout=300)
        down_s = time.perf_counter() - started
        drop_databases(profile)
    return {"up_s": up_s, "setup_s": setup, "per_day_s": per_day, "in_run_s": in_run,
            "down_s": down_s}  # fmt: skip


def _finish(client: Any, run_id: str, timeout: float = 900) -> None:
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + timeout
    while (status := client.get_run_status(run_id)) not in (
        DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED,
    ):  # fmt: skip
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(1)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id}: {status}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", choices=["embedded", "production"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    days = [(FEED.first_day + timedelta(days=n)).isoformat() for n in range(args.days)]
    if args.child:
        run = embedded if args.profile == "embedded" else production
        emit(run(args.home, args.source, days))
        return
    root = args.data / "profiles" / uuid.uuid4().hex[:8]
    source = prepare(root, [date.fromisoformat(d) for d in days])
    results = {name: measure("benchmarks.profiles", "--days", str(args.days), "--profile", name,
                             "--home", str(root / name), "--source", str(source), timeout=3600)
               for name in ("embedded", "production")}  # fmt: skip
    rows = []
    for name, result in results.items():
        if "failed" in result:
            raise SystemExit(f"{name}: {result}")
        per_day = result["per_day_s"]
        rows.append({
            "profile": name, "days": len(per_day), "setup s": result["setup_s"],
            "week s": sum(per_day), "median s/day": statistics.median(per_day),
            "in-run median s/day": statistics.median(result.get("in_run_s", per_day)),
            "up s": result.get("up_s"), "down s": result.get("down_s"),
        })  # fmt: skip
    ratio = rows[1]["median s/day"] / rows[0]["median s/day"]
    save(args.data, "profiles", {"days": days, "results": results, "ratio_per_day": ratio})
    print(table(rows))
    print(f"production / embedded, median per partition: {ratio:.2f}x")


if __name__ == "__main__":
    main()
