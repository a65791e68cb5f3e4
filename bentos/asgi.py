"""What the service's ASGI middlewares share: the types, reading a header, a refusal."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from bentos.error_body import error_body

Scope = dict[str, Any]
ASGIApp = Callable[
    [Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case), as the raw bytes the client sent."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


async def reject(
    send: Any, status: int, field: str, message: str, extra: dict[str, str] | None = None
) -> None:
    """Answers `status` with the service's one error body, naming `field`."""
    body = json.dumps(error_body([(field, message)])).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
