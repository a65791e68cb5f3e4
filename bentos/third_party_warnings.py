"""Deprecation warnings raised inside BentoML and its server stack are BentoML's to fix.

They printed at every start, once per process (the `bentoml serve` process and each worker),
and told the person serving nothing they could act on. Only warnings attributed to those
packages' own modules are hidden: one raised in this repository's code still shows.
"""

from __future__ import annotations

import warnings

THIRD_PARTY = r"(bentoml|_bentoml_sdk|_bentoml_impl|tornado)(\.|$)"


def hide_third_party_deprecations() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=THIRD_PARTY)
