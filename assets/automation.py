"""Declarative automation for the daily assets that follow a landed day down the graph."""

import dagster as dg


def after_upstream_days(*ignored: str) -> dg.AutomationCondition:
    """`AutomationCondition.eager()` without its latest-time-window clause.

    eager() only looks at the partition of *now*: the feed replays 2013, so it would only ever
    consider 2013-12-31. This requests any day whose upstream days were updated, once they all
    exist and none is running. `ignored` deps (reference tables, the champion, the registry)
    would otherwise make every day of the year eligible whenever they change.
    """
    updated = dg.AutomationCondition.any_deps_updated()
    if ignored:
        updated = updated.ignore(dg.AssetSelection.assets(*ignored))
    return (
        updated.since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after upstream days")
