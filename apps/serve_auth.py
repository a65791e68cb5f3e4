"""The serve commands' API-key decision: keys from the environment, or a loud warning that the
service is open to whoever reaches its port."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from flightpath.api_keys import api_keys_from_env


def serves_with_keys(env: Mapping[str, str], command: str) -> bool | None:
    """True with keys, False with auth switched off (after the warning), None when the
    environment is refused (the reason printed, naming `command`)."""
    try:
        auth = api_keys_from_env(env) is not None
    except RuntimeError as error:
        print(f"{command}: {error} (or pass --no-auth)", file=sys.stderr)
        return None
    if not auth:
        print("*" * 78 + "\n*  AUTHENTICATION IS OFF: anyone who can reach this port can call "
              "/predict.\n*  A local demo only; set FLIGHTPATH_API_KEYS to serve for real.\n"
              + "*" * 78, flush=True)  # fmt: skip
    return auth
