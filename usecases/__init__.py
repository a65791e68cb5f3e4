"""Use cases: each a definition the lifecycle kit (`assets/kit/`) builds an asset graph from.

`USECASES` is the one map from a use case's name (the CLI's `flightpath usecase NAME ...`) to its
definition as `module:attribute` (what the service reads from FLIGHTPATH_USECASE).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the definitions import pandas: only when one is loaded
    from flightpath.usecase import UseCase

# Flights (`usecases/flights/`) is not listed: the kit builds its model stage only, and the code
# location builds the rest from its own modules (`pipelines/definitions.py`).
USECASES: dict[str, str] = {"mortgage": "usecases.mortgage.definition:MORTGAGE"}


def load_usecase(name: str) -> UseCase:
    """The definition of the use case `name` (a key of USECASES)."""
    module, _, attribute = USECASES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
