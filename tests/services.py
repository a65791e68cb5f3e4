"""Real Postgres and Redis for the production-profile tests: present, or loudly absent.

Outside CI a missing service skips its tests with the reason; under CI (CI=true) it fails them.
"""

import os
import socket

import pytest

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def require(name: str, address: tuple[str, int]) -> None:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable at {address[0]}:{address[1]} ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must provide it (.ci/run starts it)")
        pytest.skip(f"SKIPPED LOUDLY: {message}; start it to run the production-profile tests")
