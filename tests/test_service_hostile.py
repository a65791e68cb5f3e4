"""Hostile input against a real `bentoml serve`: odd headers, huge or deep bodies, wrong media.

Each answer is a fast 4xx that says why, never a 500 and never a stall.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from apps.service_process import free_port
from bentos.limits import MAX_BODY_BYTES
from bentos.openapi import OPENAPI_VERSION
from bentos.schema import Flight
from flightpath.codes import TAILNUM_PATTERN
from flightpath.home import bentoml_home
from tests.serving import API_KEY, flights_of, home_with_models, run_briefly, serving

DAY = date(2013, 1, 17)
BIN = Path(sys.executable).parent
FAST = 1.0  # seconds: a rejection costs no more than this, here on a loaded 2-core machine


@pytest.fixture(scope="module")
def home(feature_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return home_with_models(feature_home, tmp_path_factory.mktemp("hostile") / "home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[httpx.Client]:
    with serving(home, FLIGHTPATH_RATE_LIMIT="100000") as client:
        yield client


@pytest.fixture(scope="module")
def flights(home: Path) -> list[dict]:
    return flights_of(home, DAY, 500)


def _timed(call: object) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call()  # type: ignore[operator]
    return response, time.monotonic() - start


def test_a_header_that_is_not_utf8_is_a_fast_401_or_served(
    client: httpx.Client, flights: list[dict]
) -> None:
    odd = [("X-Odd", b"caf\xe9 \xff")]
    anonymous, seconds = _timed(
        lambda: httpx.post(f"{client.base_url}/predict", json={"flights": flights[:1]}, headers=odd)
    )
    assert anonymous.status_code == 401 and seconds < FAST, (anonymous.text, seconds)
    keyed = client.post(
        "/predict", json={"flights": flights[:1]}, headers=[("X-API-Key", API_KEY), *odd]
    )
    assert keyed.status_code == 200, keyed.text
    wrong = httpx.post(
        f"{client.base_url}/predict",
        json={"flights": flights[:1]},
        headers=[("X-API-Key", b"\xff\xfe")],
    )
    assert wrong.status_code == 401


def _padded(flights: list[dict], size: int) -> bytes:
    """A valid request of these flights, padded with JSON whitespace to `size` bytes."""
    body = json.dumps({"flights": flights}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_a_full_batch_fits_the_body_limit_and_a_larger_body_is_413(
    client: httpx.Client, flights: list[dict]
) -> None:
    full = json.dumps({"flights": flights, "explain": True}, indent=2).encode()
    assert len(flights) == 500 and len(full) < MAX_BODY_BYTES  # the limit admits any valid batch
    one_mb = client.post(
        "/predict",
        content=_padded(flights, 1_000_000),
        headers={"content-type": "application/json"},
    )
    assert one_mb.status_code == 200, one_mb.text[:300]
    over, seconds = _timed(
        lambda: client.post(
            "/predict",
            content=_padded(flights, MAX_BODY_BYTES + 1),
            headers={"content-type": "application/json"},
        )
    )
    assert over.status_code == 413 and "at most" in over.text and seconds < FAST


def _raw_post(
    client: httpx.Client, headers: dict[str, str], chunks: Iterable[bytes] = ()
) -> tuple[int, int, float]:
    """POST /predict over a socket, sending `chunks` until the server answers.

    Returns the status, the body bytes sent and the seconds to the answer; the body is never
    built in memory.
    """
    url = client.base_url
    head = f"POST /predict HTTP/1.1\r\nHost: {url.host}\r\nX-API-Key: {API_KEY}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    start, sent = time.monotonic(), 0
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = sock.recv(4096)
    return int(answer.split()[1]), sent, time.monotonic() - start


@pytest.mark.parametrize("size", [20_000_000, 200_000_000])
def test_a_declared_huge_body_is_413_before_it_is_read(client: httpx.Client, size: int) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(size)}
    status, _, seconds = _raw_post(client, headers)  # nothing sent: the length alone decides
    assert status == 413 and seconds < FAST


def test_a_chunked_huge_body_is_cut_off_at_the_limit(client: httpx.Client) -> None:
    piece = b" " * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    chunks = (chunk for _ in range(200_000_000 // len(piece)))  # 200 MB, lazily
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, sent, seconds = _raw_post(client, headers, chunks)
    assert status == 413
    assert sent < 50_000_000 and seconds < 5, (sent, seconds)  # answered long before the end


def test_deep_nesting_and_huge_arrays_are_rejected_cheaply(client: httpx.Client) -> None:
    deep = b'{"flights": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    wide = b'{"flights": [' + b",".join([b"{}"] * 100_000) + b"]}"
    numbers = b'{"flights": [' + b",".join([b"0"] * 100_000) + b"]}"
    for body in (deep, wide, numbers):
        response, seconds = _timed(
            lambda body=body: client.post(
                "/predict", content=body, headers={"content-type": "application/json"}
            )
        )
        assert response.status_code in (400, 413) and seconds < FAST, (response.text[:200], seconds)
        assert len(response.content) < 10_000  # not 100,000 errors echoed back


@pytest.mark.parametrize(
    "media",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/vnd.bentoml+pickle",
    ],
)
def test_a_body_that_is_not_json_is_415(
    client: httpx.Client, flights: list[dict], media: str
) -> None:
    body = json.dumps({"flights": flights[:1]}).encode()
    response = client.post("/predict", content=body, headers={"content-type": media})
    assert response.status_code == 415 and "application/json" in response.text


def test_json_with_a_charset_is_served(client: httpx.Client, flights: list[dict]) -> None:
    body = json.dumps({"flights": flights[:1]}).encode()
    response = client.post(
        "/predict", content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200, response.text


def test_a_400_is_one_info_line_naming_the_field(
    client: httpx.Client, flights: list[dict], home: Path
) -> None:
    for field, value in (("origin", "BOS"), ("dest", "QQQ")):  # pydantic's, then the service's
        response = client.post("/predict", json={"flights": [{**flights[0], field: value}]})
        assert response.status_code == 400
    time.sleep(0.5)  # the worker's log is flushed line by line
    log = next(home.glob("serve-*.log")).read_text()
    assert "Traceback" not in log and "ValidationError" not in log
    for field in ("origin", "dest"):
        [line] = [line for line in log.splitlines() if f"flights.0.{field}" in line]
        assert "INFO" in line and "400" in line


TAILS = [
    "N14228",
    "N3ALAA",
    "N1",
    "N123456A",
    "N1234567A",
    "n14228",
    "N1 228",
    "N14228\n",
    "N\u202e14228",
    "N" * 528,
    "\u202e" + "N1" * 263,
    "",
]


@pytest.mark.parametrize("tail", TAILS)
def test_the_service_and_the_lake_share_one_tail_number_rule(
    flights: list[dict], tail: str
) -> None:
    valid = re.fullmatch(TAILNUM_PATTERN, tail) is not None
    try:
        Flight.model_validate({**flights[0], "tailnum": tail})
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == valid
    assert valid == (tail in ("N14228", "N3ALAA", "N1", "N123456A"))


def _outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return True
    return False


def test_the_service_binds_loopback_by_default(client: httpx.Client) -> None:
    """`running_service` passes no --host: this is the service's own default."""
    outward = _outward_address()
    if outward is None:
        pytest.skip("SKIPPED LOUDLY: this machine has no non-loopback address to try")
    assert not _refused("127.0.0.1", client.base_url.port)  # type: ignore[arg-type]
    assert _refused(outward, client.base_url.port)  # type: ignore[arg-type]


def _without_keys(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("FLIGHTPATH_API_KEYS", "FLIGHTPATH_AUTH")
    }
    return {**env, "FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(bentoml_home(home)), **extra}


def test_bentoml_serve_refuses_to_start_without_keys(home: Path) -> None:
    command = [str(BIN / "bentoml"), "serve", "bentos.service:DelayService", "--port",
               str(free_port())]  # fmt: skip
    code, out = run_briefly(command, _without_keys(home), 120)
    assert code != 0 and "refusing to start without API keys" in out


def test_flightpath_serve_refuses_without_keys_and_says_so_when_auth_is_off(
    home: Path, flights: list[dict]
) -> None:
    code, out = run_briefly([str(BIN / "flightpath"), "serve"], _without_keys(home), 60)
    assert code == 2 and "--no-auth" in out and "FLIGHTPATH_API_KEYS" in out

    port = free_port()
    log = home / "flightpath-serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(BIN / "flightpath"), "serve", "--no-auth", "--port",
                                    str(port)], env=_without_keys(home), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            anonymous = httpx.post(f"{url}/predict", json={"flights": flights[:1]}, timeout=30)
            assert anonymous.status_code == 200, anonymous.text
            assert "AUTHENTICATION IS OFF" in log.read_text()
            outward = _outward_address()
            assert outward is None or _refused(outward, port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_generated_requests_from_the_published_spec_never_get_a_5xx(client: httpx.Client) -> None:
    """Schemathesis, from the spec the service serves: >= 1,000 requests, valid and invalid."""
    spec = client.get("/docs.json").json()
    assert spec["openapi"] == OPENAPI_VERSION
    schema = schemathesis.openapi.from_dict(spec)
    # The GET routes take no input (one case each); /predict gets the budget, both ways.
    budget = {GenerationMode.POSITIVE: 700, GenerationMode.NEGATIVE: 400}
    answered: dict[str, int] = {}
    server_errors: list[str] = []

    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=str(client.base_url), headers={"X-API-Key": API_KEY})
        label = f"{case.method} {case.path}"
        answered[label] = answered.get(label, 0) + 1
        if response.status_code >= 500:
            server_errors.append(f"{label} {case.body!r:.200} -> {response.status_code}")

    for result in schema.get_all_operations():
        operation = result.ok()
        modes = budget if operation.label == "POST /predict" else {GenerationMode.POSITIVE: 5}
        for mode, examples in modes.items():
            run = given(case=operation.as_strategy(generation_mode=mode))(call)
            settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))(run)()  # fmt: skip
    assert set(answered) == {"GET /healthz", "GET /livez", "GET /readyz", "GET /metrics",
                             "POST /predict"}  # fmt: skip
    assert sum(answered.values()) >= 1000, answered
    assert not server_errors, server_errors[:5]
