"""The replay calendar: one partition per local (New York) day of 2013."""

from datetime import date

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)
