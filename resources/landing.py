"""The landing zone as a Dagster resource: the library's landing files, configured with `root`."""

from __future__ import annotations

import dagster as dg

from flightpath.landing import LandingFiles


# ConfigurableResource first: its (pydantic) constructor is the one `LandingZone(root=...)` calls.
class LandingZone(dg.ConfigurableResource, LandingFiles):
    """`flightpath.landing.LandingFiles` for assets and sensors: every method is the library's."""

    root: str
