"""Request bodies the service accepts: JSON only, at most MAX_BODY_BYTES, as ASGI middleware.

The length is checked before a byte of the body is read (a declared Content-Length), and
counted while a chunked body streams in, so a 200 MB body costs at most the limit in memory.
"""

from __future__ import annotations

from typing import Any

from bentos.asgi import ASGIApp, Scope, header, reject

# A flight is ~180 bytes of compact JSON and ~260 pretty-printed with `explain`: a full batch
# of MAX_FLIGHTS is ~130 kB. 1 MiB leaves room for any formatting and refuses the rest.
MAX_BODY_BYTES = 1 << 20
JSON = b"application/json"
BODY_METHODS = ("POST", "PUT", "PATCH")


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        media = (header(scope, b"content-type") or JSON).split(b";")[0].strip().lower()
        if media != JSON:
            await reject(send, 415, "Content-Type", "send the request as application/json")
            return
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await reject(send, 413, "body", f"a request body is at most {MAX_BODY_BYTES} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await reject(send, 413, "body", f"a request body is at most {MAX_BODY_BYTES} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body already read, then the client's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replayed
