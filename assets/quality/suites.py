"""Great Expectations 1.x suites for flights and weather, defined in code.

Great Expectations is imported where a suite is built, not with the module: it takes seconds,
and the code location loads this module in every process, most of which never validate.

Every expectation carries `meta.rule`: several expectations can make up one rule, and each rule
becomes one Dagster asset check. Map expectations ignore nulls; `required_values_present` is
where nulls are caught.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from flightpath.codes import TAILNUM_PATTERN
from flightpath.feed_calendar import FEED
from flightpath.quality.contracts import FLIGHTS, WEATHER
from flightpath.quality.rules import COLUMN_TYPES, DUPLICATE_ROW, Action, Rule

if TYPE_CHECKING:  # Great Expectations takes seconds to import: only where suites run
    import great_expectations as gx
    import great_expectations.expectations as gxe

REQUIRED_COLUMNS = Rule("required_columns", Action.BLOCK, "every contract column is present")
NOT_EMPTY = Rule("not_empty", Action.BLOCK, "the day's file has at least one row")
NO_UNEXPECTED_COLUMNS = Rule(
    "no_unexpected_columns", Action.WARN, "no columns beyond the contract (extras are dropped)"
)
REQUIRED_VALUES = Rule(
    "required_values_present", Action.QUARANTINE, "keys and schedule fields are not null"
)
ON_PARTITION_DAY = Rule(
    "on_partition_day",
    Action.QUARANTINE,
    "the row's local date is the file's day (no future or other days)",
)
CALENDAR_VALID = Rule(
    "calendar_valid",
    Action.QUARANTINE,
    "month, day, hour, minute and HHMM clock fields are in range",
)
ORIGIN_KNOWN = Rule(
    "origin_known", Action.QUARANTINE, f"origin is one of the feed's {', '.join(FEED.origins)}"
)

DISTANCE_IN_RANGE = Rule("distance_in_range", Action.QUARANTINE, "0 < distance <= 5000 miles")
CARRIER_KNOWN = Rule("carrier_known", Action.QUARANTINE, "carrier is in the airlines reference")
DEST_KNOWN = Rule("dest_known", Action.QUARANTINE, "dest is in the airports reference")
DELAY_IN_RANGE = Rule(
    "delay_in_range", Action.QUARANTINE, "-120 <= departure/arrival delay <= 1800 minutes"
)
AIR_TIME_IN_RANGE = Rule("air_time_in_range", Action.QUARANTINE, "0 < air_time <= 900 minutes")
ARRIVAL_AFTER_DEPARTURE = Rule(
    "arrival_after_departure", Action.QUARANTINE, "actual arrival (UTC) is after actual departure"
)
FLIGHT_KEY_UNIQUE = Rule(
    "flight_key_unique",
    Action.QUARANTINE,
    "carrier + flight + origin + scheduled departure identifies one row",
)
TAILNUM_MOSTLY_PRESENT = Rule(
    "tailnum_mostly_present", Action.WARN, "at least 95% of flights name their aircraft"
)
TAILNUM_VALID = Rule(
    "tailnum_valid", Action.QUARANTINE, "tailnum, when given, is a registration the service accepts"
)

WEATHER_IN_RANGE = Rule(
    "readings_in_range",
    Action.QUARANTINE,
    "physical ranges: 0<=humid<=100, -40<=temp<=130 F, wind 0-150 mph, 900-1100 hPa, ...",
)
OBSERVATION_UNIQUE = Rule(
    "observation_unique", Action.QUARANTINE, "one observation per origin and hour"
)

_TABLE_RULES = (REQUIRED_COLUMNS, NOT_EMPTY, NO_UNEXPECTED_COLUMNS, COLUMN_TYPES, DUPLICATE_ROW)
FLIGHT_RULES = (
    *_TABLE_RULES,
    REQUIRED_VALUES,
    ON_PARTITION_DAY,
    CALENDAR_VALID,
    ORIGIN_KNOWN,
    CARRIER_KNOWN,
    DEST_KNOWN,
    DISTANCE_IN_RANGE,
    DELAY_IN_RANGE,
    AIR_TIME_IN_RANGE,
    ARRIVAL_AFTER_DEPARTURE,
    FLIGHT_KEY_UNIQUE,
    TAILNUM_MOSTLY_PRESENT,
    TAILNUM_VALID,
)
WEATHER_RULES = (
    *_TABLE_RULES,
    REQUIRED_VALUES,
    ON_PARTITION_DAY,
    CALENDAR_VALID,
    ORIGIN_KNOWN,
    WEATHER_IN_RANGE,
    OBSERVATION_UNIQUE,
)

FILE_DAY = "_file_day"  # the day of the file a row came in: a helper column, never stored

# Columns a validated partition holds beyond its contract.
FLIGHT_DERIVED = [
    "flight_id", "flight_date", "sched_dep_utc", "dep_utc", "sched_arr_utc", "arr_utc",
]  # fmt: skip
WEATHER_DERIVED = ["flight_date"]


def flights_suite(carriers: Iterable[str], airports: Iterable[str]) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = [
        *_table_expectations(FLIGHTS.required, FLIGHT_DERIVED),
        *_not_null(
            REQUIRED_VALUES,
            [
                "carrier",
                "flight",
                "origin",
                "dest",
                "time_hour",
                "year",
                "month",
                "day",
                "sched_dep_time",
                "sched_arr_time",
                "hour",
                "minute",
                "distance",
            ],
        ),
        *_calendar(["sched_dep_time", "sched_arr_time", "dep_time", "arr_time"]),
        _between(CALENDAR_VALID, "minute", 0, 59),
        *_on_day("flight_date", "sched_dep_utc"),
        _in_set(ORIGIN_KNOWN, "origin", FEED.origins),
        _in_set(CARRIER_KNOWN, "carrier", sorted(carriers)),
        _in_set(DEST_KNOWN, "dest", sorted(airports)),
        _between(DISTANCE_IN_RANGE, "distance", 0, 5000, strict_min=True),
        _between(DELAY_IN_RANGE, "dep_delay", -120, 1800),
        _between(DELAY_IN_RANGE, "arr_delay", -120, 1800),
        _between(AIR_TIME_IN_RANGE, "air_time", 0, 900, strict_min=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="arr_utc",
            column_B="dep_utc",
            ignore_row_if="either_value_is_missing",
            meta=_meta(ARRIVAL_AFTER_DEPARTURE),
        ),
        _unique_in_file(FLIGHT_KEY_UNIQUE, FLIGHTS.key),
        gxe.ExpectColumnValuesToNotBeNull(
            column="tailnum", mostly=0.95, meta=_meta(TAILNUM_MOSTLY_PRESENT)
        ),
        # The service's request schema uses the same pattern: one rule for both paths.
        gxe.ExpectColumnValuesToMatchRegex(
            column="tailnum", regex=TAILNUM_PATTERN, meta=_meta(TAILNUM_VALID)
        ),
    ]
    return gx.ExpectationSuite(name="flights", expectations=expectations)


def weather_suite() -> gx.ExpectationSuite:
    import great_expectations as gx

    ranges = {
        "temp": (-40, 130),
        "dewp": (-60, 100),
        "humid": (0, 100),
        "wind_dir": (0, 360),
        "wind_speed": (0, 150),
        "wind_gust": (0, 200),
        "precip": (0, 10),
        "pressure": (900, 1100),
        "visib": (0, 10),
    }
    expectations = [
        *_table_expectations(WEATHER.required, WEATHER_DERIVED),
        *_not_null(REQUIRED_VALUES, ["origin", "time_hour", "year", "month", "day", "hour"]),
        *_calendar([]),
        *_on_day("flight_date", "time_hour"),
        _in_set(ORIGIN_KNOWN, "origin", FEED.origins),
        *(_between(WEATHER_IN_RANGE, column, low, high) for column, (low, high) in ranges.items()),
        _unique_in_file(OBSERVATION_UNIQUE, WEATHER.key),
    ]
    return gx.ExpectationSuite(name="weather", expectations=expectations)


def _meta(rule: Rule) -> dict[str, str]:
    return {"rule": rule.name}


def _table_expectations(required: list[str], derived: list[str]) -> list[gxe.Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=required, exact_match=False, meta=_meta(REQUIRED_COLUMNS)
        ),
        gxe.ExpectTableColumnsToMatchSet(
            column_set=required + derived, exact_match=True, meta=_meta(NO_UNEXPECTED_COLUMNS)
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta(NOT_EMPTY)),
    ]


def _not_null(rule: Rule, columns: list[str]) -> list[gxe.Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(rule)) for column in columns
    ]


def _on_day(date_column: str, instant_column: str) -> list[gxe.Expectation]:
    """The row's calendar date is its file's day (and is a real date), and so is its instant.

    The suite does not name a day, so one run can judge many files: each row is compared with
    its own file's day, in the helper columns `day_columns` adds."""
    # An instant too far out to compute is empty, and pair expectations skip empty cells.
    return [
        *_not_null(ON_PARTITION_DAY, [date_column, instant_column]),
        _on_file_day(date_column, date_column),
        instant_on_file_day(instant_column),
    ]


def instant_on_file_day(instant_column: str) -> gxe.Expectation:
    """The local day of the row's instant (`day_columns`) is its file's day."""
    return _on_file_day(local_day(instant_column), instant_column)


def _on_file_day(compared: str, shown: str) -> gxe.Expectation:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnPairValuesToBeEqual(
        column_A=compared,
        column_B=FILE_DAY,
        ignore_row_if="either_value_is_missing",
        meta={**_meta(ON_PARTITION_DAY), "shows": [shown]},
    )


def day_columns(
    frame: pd.DataFrame, day: date, instant_column: str, zone: str = FEED.timezone
) -> pd.DataFrame:
    """The helper columns `_on_day` compares, never stored: the file's day, and the local day
    (in `zone`, the feed's by default) of the row's instant (a day is 23 or 25 hours long when
    daylight saving time changes)."""
    columns = pd.DataFrame({FILE_DAY: pd.Timestamp(day)}, index=frame.index)
    if instant_column in frame:  # absent in a file missing a column: that rule cannot run
        local = frame[instant_column].dt.tz_convert(zone).dt.tz_localize(None)
        columns[local_day(instant_column)] = local.dt.normalize()
    return columns


def local_day(instant_column: str) -> str:
    return f"_{instant_column}_local_day"


def _unique_in_file(rule: Rule, key: Sequence[str]) -> gxe.Expectation:
    """The key identifies one row of its file (a row repeated in another day's file is that
    file's problem, judged there by `on_partition_day`)."""
    import great_expectations.expectations as gxe

    return gxe.ExpectCompoundColumnsToBeUnique(
        column_list=[*key, FILE_DAY], meta={**_meta(rule), "shows": list(key)}
    )


def _calendar(hhmm_columns: list[str]) -> list[gxe.Expectation]:
    # 2400 is how the source writes a departure exactly at midnight.
    return [
        _between(CALENDAR_VALID, "month", 1, 12),
        _between(CALENDAR_VALID, "day", 1, 31),
        _between(CALENDAR_VALID, "hour", 0, 23),
        *(_between(CALENDAR_VALID, column, 0, 2400) for column in hhmm_columns),
    ]


def _between(
    rule: Rule, column: str, low: float, high: float, strict_min: bool = False
) -> gxe.Expectation:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, strict_min=strict_min, meta=_meta(rule)
    )


def _in_set(rule: Rule, column: str, values: Sequence[object]) -> gxe.Expectation:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), meta=_meta(rule))
