"""`bentoml serve` of the prediction service as a child process, until a block ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from flightpath.home import bentoml_home

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_service(
    home: Path,
    env: dict[str, str],
    headers: dict[str, str] | None = None,
    ready: str = "/readyz",
    port: int | None = None,
    target: str = "bentos.service:DelayService",
    cwd: Path = ROOT,
) -> Iterator[httpx.Client]:
    """The service `target` (module:class, or a bento's tag) over `home` on `port` (a free one
    by default), run from `cwd`, its log in the home.

    Yields a client once `ready` answers 200; the service is stopped when the block ends.
    """
    port = port or free_port()
    variables = {**os.environ, "FLIGHTPATH_HOME": str(home),
                 "BENTOML_HOME": str(bentoml_home(home)), **env}  # fmt: skip
    bentoml = Path(sys.executable).parent / "bentoml"
    log_path = home / f"serve-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        # No --host: the service binds 127.0.0.1 by default (its tests check it).
        [str(bentoml), "serve", target, "--port", str(port)],
        cwd=cwd, env=variables, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"bentoml serve exited: {log_path.read_text()}")
            try:
                if client.get(ready).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bentoml serve was not ready in {READY_SECONDS} s")
            time.sleep(0.5)
        yield client
    finally:
        client.close()
        stop(process, timeout=20)
        log.close()
