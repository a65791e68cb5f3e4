"""The lake as a Dagster resource: the library's lake files, configured with `root`."""

from __future__ import annotations

import dagster as dg

from flightpath.lake import LakeFiles


# ConfigurableResource first: its (pydantic) constructor is the one `Lake(root=...)` calls.
class Lake(dg.ConfigurableResource, LakeFiles):
    """`flightpath.lake.LakeFiles` for assets: every method is the library's."""

    root: str
