"""One partition per local day of the feed, first to last (its calendar is configured)."""

from datetime import date, timedelta

import dagster as dg

from flightpath.feed_calendar import FEED

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FEED.first_day.isoformat(),
    end_date=(FEED.last_day + timedelta(days=1)).isoformat(),  # exclusive
)


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)
