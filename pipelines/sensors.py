"""The landing sensor: every newly landed (or re-landed) file gets exactly one run, once its day
is complete."""

import json
import time
from collections import defaultdict
from datetime import timedelta

import dagster as dg

from flightpath.landing import DAILY_TABLES, REFERENCE_TABLES
from pipelines.jobs import DAILY_ASSETS, daily_ingest_job, reference_job
from resources.landing import LandingZone

REFERENCE_KEYS = [dg.AssetKey("raw_airlines"), dg.AssetKey("airports")]
# How long a day waits for its other tables. After that it is run whole, so the run fails naming
# the missing file instead of the day passing without it (weather never lands for 2013-12-31).
MISSING_TABLE_GRACE = timedelta(hours=1)


@dg.sensor(
    jobs=[daily_ingest_job, reference_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests an ingestion run for each day whose files landed since the last tick, "
    "once every daily table of that day is there.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    # The cursor holds the newest modification time already seen per file kind, and the tables
    # seen but not yet requested per waiting day. Files land by atomic rename (writers' temp
    # names are skipped), so a file visible with mtime > cursor is new and complete.
    cursor: dict = json.loads(context.cursor) if context.cursor else {}
    requests: list[dg.RunRequest] = []

    reference_mtimes = {
        name: landing.reference_path(name).lstat().st_mtime_ns
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

    pending: dict[str, set[str]] = defaultdict(set)
    pending.update({day: set(tables) for day, tables in cursor.get("pending", {}).items()})
    landed: dict[str, dict[str, int]] = defaultdict(dict)  # day -> table -> newest mtime
    for table in DAILY_TABLES:
        newest = cursor.get(table, 0)
        # On the sensor's first tick, days already ingested (say by `flightpath ingest`) are
        # done; from then on the cursor decides, so a re-landed file still gets its run.
        done = (
            context.instance.get_materialized_partitions(dg.AssetKey(f"raw_{table}"))
            if table not in cursor
            else set()
        )
        for file in landing.landed_days(table):
            day = file.day.isoformat()
            landed[day][table] = max(landed[day].get(table, 0), file.mtime_ns)
            if file.mtime_ns > cursor.get(table, 0):
                newest = max(newest, file.mtime_ns)
                if day not in done:
                    pending[day].add(table)
        cursor[table] = newest

    waiting: dict[str, list[str]] = {}
    for day in sorted(pending):
        if not landed[day]:
            continue  # its files were taken away again: nothing to run
        missing = [t for t in DAILY_TABLES if t not in landed[day]]
        waited_ns = time.time_ns() - min(landed[day].values())
        if missing and waited_ns < MISSING_TABLE_GRACE.total_seconds() * 1e9:
            context.log.info(f"{day}: waiting for {', '.join(missing)} to land")
            waiting[day] = sorted(pending[day])
            continue
        # A missing table is selected too: its raw asset fails naming the missing file.
        tables = sorted(pending[day] | set(missing))
        requests.append(
            dg.RunRequest(
                job_name=daily_ingest_job.name,
                partition_key=day,
                asset_selection=[dg.AssetKey(k) for t in tables for k in DAILY_ASSETS[t]],
                run_key=f"{day}@{max(landed[day].values())}",
            )
        )
    cursor["pending"] = waiting
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))
