"""The service's API keys, read from the environment: one rule for `bentoml serve` and the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping


def api_keys_from_env(environ: Mapping[str, str] = os.environ) -> list[bytes] | None:
    """The accepted keys; None when authentication is explicitly off; no keys is an error."""
    if environ.get("FLIGHTPATH_AUTH", "").lower() == "off":
        return None
    keys = {k.strip() for k in environ.get("FLIGHTPATH_API_KEYS", "").split(",") if k.strip()}
    if not keys:
        raise RuntimeError(
            "refusing to start without API keys: set FLIGHTPATH_API_KEYS (comma-separated), "
            "or FLIGHTPATH_AUTH=off to serve without authentication (a local demo only)"
        )
    return sorted(k.encode() for k in keys)
