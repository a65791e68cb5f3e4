"""One body for every 4xx the service answers: a summary and the fields at fault, each named.

    {"error": "flights.1.origin: unknown origin airport BOS ...",
     "fields": [{"field": "flights.1.origin", "message": "unknown origin airport BOS ..."}]}

`field` is a dotted path into the JSON body (`flights.1.dest`), `body` for the body as a whole
(not JSON, too large), or the header at fault (`X-API-Key`, `Content-Type`). BentoML answers
validation errors with pydantic's list and other refusals with `[{"error": ...}]`; the
`OneErrorShape` middleware rewrites both into this one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # asgi.reject writes this module's body: no import back at run time
    from bentos.asgi import ASGIApp, Scope

MAX_SUMMARIZED = 5  # fields named in the one-line summary (all are in `fields`)
# A refusal that names no field: what the status is about.
FIELD_OF_STATUS = {401: "X-API-Key", 404: "path", 405: "method", 413: "body",
                   415: "Content-Type", 429: "X-API-Key"}  # fmt: skip


class FieldError(BaseModel):
    field: str = Field(description="dotted path into the body (flights.1.dest), body, or a header")
    message: str


class ErrorBody(BaseModel):
    """What every 4xx answer of the service holds."""

    error: str = Field(description="one line: each field at fault and what is wrong with it")
    fields: list[FieldError] = Field(min_length=1)


def error_body(problems: list[tuple[str, str]]) -> dict[str, Any]:
    """The one 4xx body for (field, message) pairs."""
    summary = "; ".join(f"{field}: {message}" for field, message in problems[:MAX_SUMMARIZED])
    if len(problems) > MAX_SUMMARIZED:
        summary += f" (and {len(problems) - MAX_SUMMARIZED} more)"
    return {"error": summary, "fields": [{"field": f, "message": m} for f, m in problems]}


def field_name(location: Any) -> str:
    """pydantic's error location as a dotted path; the body itself when it is empty."""
    return ".".join(str(part) for part in location) or "body"


def pydantic_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")  # pydantic's prefix for a validator's own words


def problems_in(status: int, body: bytes) -> list[tuple[str, str]]:
    """The (field, message) pairs of a 4xx body as BentoML or Starlette wrote it."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("detail"), list):  # pydantic's errors
        errors = [e for e in data["detail"] if isinstance(e, dict)]
        return [(field_name(e.get("loc", ())), pydantic_message(e)) for e in errors] or [
            ("body", str(data.get("error", "invalid request")))
        ]
    if isinstance(data, list) and data and isinstance(data[0], dict):  # BentoML's exceptions
        data = data[0]
    if isinstance(data, dict) and "error" in data:
        message = str(data["error"])
    else:
        message = body.decode("utf-8", "replace").strip() or f"HTTP {status}"
    return [(FIELD_OF_STATUS.get(status, "body"), message)]


class OneErrorShape:
    """Rewrites every 4xx answer that is not already an `ErrorBody` into one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewriting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                held.update(message)  # the status line waits for the whole body
                return
            if not held or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if not _is_error_body(body):
                body = json.dumps(error_body(problems_in(held["status"], body))).encode()
            headers = [(k, v) for k, v in held.get("headers", [])
                       if k.lower() not in (b"content-length", b"content-type")]  # fmt: skip
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]  # fmt: skip
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewriting)


def _is_error_body(body: bytes) -> bool:
    try:
        ErrorBody.model_validate_json(body)
    except ValueError:
        return False
    return True
