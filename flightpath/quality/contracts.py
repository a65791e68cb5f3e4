"""What a landed flights or weather file must contain, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"
    UTC_TIMESTAMP = "UTC timestamp text"


@dataclass(frozen=True)
class Contract:
    table: str
    columns: dict[str, Kind]
    key: tuple[str, ...]  # after conforming; the lake's primary key for one partition

    @property
    def required(self) -> list[str]:
        return list(self.columns)


FLIGHTS = Contract(
    table="flights",
    columns={
        "year": Kind.INTEGER,
        "month": Kind.INTEGER,
        "day": Kind.INTEGER,
        "dep_time": Kind.INTEGER,
        "sched_dep_time": Kind.INTEGER,
        "dep_delay": Kind.NUMBER,
        "arr_time": Kind.INTEGER,
        "sched_arr_time": Kind.INTEGER,
        "arr_delay": Kind.NUMBER,
        "carrier": Kind.TEXT,
        "flight": Kind.INTEGER,
        "tailnum": Kind.TEXT,
        "origin": Kind.TEXT,
        "dest": Kind.TEXT,
        "air_time": Kind.NUMBER,
        "distance": Kind.NUMBER,
        "hour": Kind.INTEGER,
        "minute": Kind.INTEGER,
        "time_hour": Kind.UTC_TIMESTAMP,
    },
    key=("carrier", "flight", "origin", "sched_dep_utc"),
)

WEATHER = Contract(
    table="weather",
    columns={
        "origin": Kind.TEXT,
        "year": Kind.INTEGER,
        "month": Kind.INTEGER,
        "day": Kind.INTEGER,
        "hour": Kind.INTEGER,
        "temp": Kind.NUMBER,
        "dewp": Kind.NUMBER,
        "humid": Kind.NUMBER,
        "wind_dir": Kind.NUMBER,
        "wind_speed": Kind.NUMBER,
        "wind_gust": Kind.NUMBER,
        "precip": Kind.NUMBER,
        "pressure": Kind.NUMBER,
        "visib": Kind.NUMBER,
        "time_hour": Kind.UTC_TIMESTAMP,
    },
    key=("origin", "time_hour"),
)

CONTRACTS = {contract.table: contract for contract in (FLIGHTS, WEATHER)}

# Lineage columns the ingestion step adds to every raw row.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
