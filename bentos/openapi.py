"""The published `/docs.json`: BentoML's document, declared as the OpenAPI version it is written in.

BentoML 1.4 declares OpenAPI 3.0.2, but pydantic 2 writes its schemas in JSON Schema 2020-12
(`type: null`, numeric `exclusiveMinimum`, `examples` lists): that is OpenAPI 3.1, and 3.0
tools (schemathesis) refuse the body of `/predict` under the 3.0.2 label. The refusals the
service's middlewares answer, and its key, are documented here too.
"""

from __future__ import annotations

import json
from typing import Any

from bentos.asgi import ASGIApp, Scope

OPENAPI_VERSION = "3.1.0"
REFUSALS = {
    401: "missing or unknown API key",
    413: "request body larger than the limit",
    415: "request body not application/json",
    429: "rate limit exceeded (per key; per client address for wrong keys)",
}


def published_spec(service: Any) -> dict[str, Any]:
    spec: dict[str, Any] = service.openapi_spec.asdict()
    spec["openapi"] = OPENAPI_VERSION
    spec["components"]["securitySchemes"] = {
        "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    predict = spec["paths"]["/predict"]["post"]
    predict["security"] = [{"api_key": []}]
    predict["responses"].update({code: {"description": text} for code, text in REFUSALS.items()})
    return spec


class PublishedSpec:
    """Answers GET /docs.json with `published_spec`, built once, at the first request."""

    def __init__(self, app: ASGIApp, service: Any) -> None:
        self.app, self.service = app, service
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/docs.json":
            await self.app(scope, receive, send)
            return
        if self.body is None:
            self.body = json.dumps(published_spec(self.service)).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(self.body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
