"""The servers under load, each started on a free loopback port and stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Server:
    """One configuration under test: what to start and with which environment."""

    name: str
    target: str  # bentoml `module:Service`, or `uvicorn:module:app`
    env: dict[str, str] = field(default_factory=dict)

    def command(self, port: int) -> list[str]:
        if self.target.startswith("uvicorn:"):
            return [str(BIN / "python"), "-m", "uvicorn", self.target.removeprefix("uvicorn:"),
                    "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                    "--log-level", "warning"]  # fmt: skip
        return [str(BIN / "bentoml"), "serve", self.target, "--host", "127.0.0.1",
                "--port", str(port)]  # fmt: skip


@dataclass
class Running:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    start_seconds: float

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes (the serve parent and its workers)."""
        total = 0.0
        for process in self.tree():
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started(server: Server, logs: Path, timeout: float = 120) -> Iterator[Running]:
    """Start `server`, wait until /readyz answers 200, stop it (SIGTERM, then SIGKILL) after."""
    port = free_port()
    log_path = logs / f"{server.name}.log"
    began = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(server.command(port), cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, env={**os.environ, **server.env},
                                   start_new_session=True)  # fmt: skip
        running = Running(f"http://127.0.0.1:{port}", process, log_path, 0.0)
        try:
            _wait_ready(running, timeout)
            running.start_seconds = time.perf_counter() - began
            yield running
        finally:
            _stop(process)


def _wait_ready(running: Running, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if running.process.poll() is not None or "startup failed" in running.log.read_text():
            raise RuntimeError(f"server failed: {running.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{running.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready in {timeout:.0f} s: {running.log.read_text()[-3000:]}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it started (they share its session)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers left behind by a parent that died
        os.killpg(process.pid, 9)
