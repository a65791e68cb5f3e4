"""`dagster dev` on a data home and a headless Chromium, for the browser test of the UI.

The server runs in its own process group and is always stopped; Chromium is Debian's, never a
Playwright download (`make install` installs the `chromium` package as root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

# No public API stops a sensor that defaults to running: this is what `dagster sensor stop` calls.
from dagster._cli.workspace.cli_target import (
    get_code_location_from_workspace,
    get_remote_repository_from_code_location,
    get_workspace_from_cli_opts,
)
from dagster_shared.cli import WorkspaceOpts
from playwright.sync_api import Page, sync_playwright

import resources.home
from apps.service_process import free_port

REPOSITORY = Path(__file__).resolve().parent.parent
WORKSPACE = REPOSITORY / "workspace.yaml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
STARTUP_TIMEOUT_S = 150  # webserver, daemon and code server importing torch, Feast, GX on 2 cores
STOP_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 30_000  # Playwright's default 5 s is less than a busy 2-core machine needs

_LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }"""


def require_chromium() -> None:
    """Skip loudly without Chromium; under CI (CI=true) fail, since `make install` provides it."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (Debian package `chromium`; `make install` adds it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(f"SKIPPED LOUDLY: {message}; the Dagster UI test needs it")


def artifacts_folder(request: pytest.FixtureRequest, name: str, what: str) -> Path:
    """`$FLIGHTPATH_TEST_ARTIFACTS/<name>` (default `tests/artifacts/<name>`), emptied: where a
    browser test leaves its screenshots and dagster dev's log."""
    default = REPOSITORY / "tests" / "artifacts"
    folder = Path(os.environ.get("FLIGHTPATH_TEST_ARTIFACTS", default)) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Said even when output is captured: the folder is what to open when the test fails.
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\n{what} screenshots and dagster dev's log: {folder}")
    return folder


def dagster_instance_home(flightpath_home: Path) -> Path:
    """The Dagster instance's home for a data home, as `flightpath dev` makes it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLIGHTPATH_HOME", str(flightpath_home))
        return resources.home.dagster_home()


def pause_automation(instance: dg.DagsterInstance, keep: Collection[str] = ()) -> list[str]:
    """Stop every sensor and schedule but those named in `keep`: only what a test means runs."""
    opts = WorkspaceOpts(workspace=[str(WORKSPACE)])
    with get_workspace_from_cli_opts(instance, dg.__version__, opts, allow_in_process=True) as ws:
        location = get_code_location_from_workspace(ws, None)
        repository = get_remote_repository_from_code_location(location, None)
        for sensor in repository.get_sensors():
            if sensor.name in keep:
                continue
            instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
        for schedule in repository.get_schedules():
            instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        return [i.name for i in [*repository.get_sensors(), *repository.get_schedules()]]


@contextmanager
def dagster_dev(flightpath_home: Path, dagster_home: Path, log: Path) -> Iterator[str]:
    """`dagster dev -w workspace.yaml` on 127.0.0.1 and a free port; yields the UI's URL."""
    port = free_port()
    # Dagster greets a new instance with a newsletter dialog over the page, at a moment of its
    # choosing (it raced the tests' own dialogs): this instance has seen it (`dagster._core.nux`).
    (dagster_home / ".nux").mkdir(parents=True, exist_ok=True)
    (dagster_home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    env = {**os.environ, "FLIGHTPATH_HOME": str(flightpath_home),
           "DAGSTER_HOME": str(dagster_home), "GX_ANALYTICS_ENABLED": "false"}  # fmt: skip
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, never orphaned
            preexec_fn=_interruptible,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_loaded(url, server, log)
        yield url
    finally:
        stopped = _stop(server)
    assert stopped, f"dagster dev did not stop on SIGINT within {STOP_TIMEOUT_S} s; see {log}"


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    """A page in Debian's headless Chromium with a fresh profile, patient with a busy machine."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1600, "height": 1000},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            context.close()


def _interruptible() -> None:
    # A shell's background job ignores SIGINT, and Python then never raises KeyboardInterrupt:
    # dagster dev would ignore the SIGINT (and the SIGTERM it maps onto it) that stops it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until_loaded(url: str, server: subprocess.Popen, log: Path) -> None:
    """Until the webserver answers and the code location is loaded, or fail with the log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster dev exited with {server.returncode}:\n{_tail(log)}")
        try:
            request = urllib.request.Request(
                f"{url}/graphql", data=json.dumps({"query": _LOCATIONS}).encode(),
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=10) as response:
                entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
            entries = []
        errors = [e for e in entries if e["locationOrLoadError"]
                  and e["locationOrLoadError"]["__typename"] == "PythonError"]  # fmt: skip
        if errors:
            pytest.fail(f"the code location failed to load: {errors}")
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            return
        time.sleep(1)
    pytest.fail(f"dagster dev was not ready within {STARTUP_TIMEOUT_S} s:\n{_tail(log)}")


def _stop(server: subprocess.Popen) -> bool:
    """SIGINT the process group, as Ctrl-C does; SIGKILL whatever is left. True if it obeyed."""
    group = server.pid
    try:
        os.killpg(group, signal.SIGINT)
        server.wait(timeout=STOP_TIMEOUT_S)
        clean = True
    except subprocess.TimeoutExpired:
        clean = False
    except ProcessLookupError:
        clean = server.poll() is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)  # the code servers, or a run still going
    server.wait()
    return clean


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
