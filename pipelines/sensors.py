"""The landing sensor: every newly landed (or re-landed) file gets exactly one run."""

import json
from collections import defaultdict

import dagster as dg

from pipelines.jobs import DAILY_ASSETS, daily_ingest_job, reference_job
from resources.landing import DAILY_TABLES, REFERENCE_TABLES, LandingZone

REFERENCE_KEYS = [dg.AssetKey("raw_airlines"), dg.AssetKey("airports")]


@dg.sensor(
    jobs=[daily_ingest_job, reference_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests an ingestion run for each day whose files landed since the last tick.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    # The cursor is the newest modification time already requested, per file kind. Files are
    # written by atomic rename, so a file visible with mtime > cursor is new and complete.
    cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    requests: list[dg.RunRequest] = []

    reference_mtimes = {
        name: landing.reference_path(name).stat().st_mtime_ns
        for name in REFERENCE_TABLES
        if landing.reference_path(name).exists()
    }
    new_reference = {n: m for n, m in reference_mtimes.items() if m > cursor.get("reference", 0)}
    if new_reference:
        requests.append(
            dg.RunRequest(
                job_name=reference_job.name,
                run_key=f"reference@{max(new_reference.values())}",
                tags={"flightpath/landed": ",".join(sorted(new_reference))},
            )
        )
        cursor["reference"] = max(new_reference.values())

    # Validating a day needs the carriers and airports: until they are in the lake, days wait
    # (their files stay newer than the cursor, so the first tick after that picks them up).
    if not all(context.instance.get_latest_materialization_event(k) for k in REFERENCE_KEYS):
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    assets_by_day: dict[str, list[str]] = defaultdict(list)
    newest_by_day: dict[str, int] = defaultdict(int)
    for table in DAILY_TABLES:
        newest = cursor.get(table, 0)
        # On the sensor's first tick, days already ingested (say by `flightpath ingest`) are
        # done; from then on the cursor decides, so a re-landed file still gets its run.
        done = (
            context.instance.get_materialized_partitions(dg.AssetKey(f"raw_{table}"))
            if table not in cursor
            else set()
        )
        for landed in landing.landed_days(table):
            day = landed.day.isoformat()
            if landed.mtime_ns <= cursor.get(table, 0):
                continue
            newest = max(newest, landed.mtime_ns)
            if day not in done:
                assets_by_day[day].extend(DAILY_ASSETS[table])
                newest_by_day[day] = max(newest_by_day[day], landed.mtime_ns)
        cursor[table] = newest

    for day in sorted(assets_by_day):
        requests.append(
            dg.RunRequest(
                job_name=daily_ingest_job.name,
                partition_key=day,
                asset_selection=[dg.AssetKey(key) for key in assets_by_day[day]],
                run_key=f"{day}@{newest_by_day[day]}",
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))
