"""What the service reads per view, without Feast: the views and the row each answers.

The service's definition imports only this; `bentos/online.py` (the store reads, Feast) is
imported where the store is opened, so loading the definition (`bentoml build` at every
training, `bentoml serve`'s main process) skips Feast: 6 of its 8 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flightpath.entity_views import ENTITY_VIEWS

# The serving views the model reads, and the request field each is keyed by.
VIEWS = {name: view.key for name, view in ENTITY_VIEWS.items()}


@dataclass
class ViewRow:
    """One entity's values in one view, and when they were computed (None: no row)."""

    values: dict[str, Any]
    as_of: datetime | None
