"""The published docs: `/docs.json`, BentoML's OpenAPI document declared as the version it is
written in, and `/docs`, which sends a browser to BentoML's Swagger UI at `/`.

BentoML 1.4 declares OpenAPI 3.0.2, but pydantic 2 writes its schemas in JSON Schema 2020-12
(`type: null`, numeric `exclusiveMinimum`, `examples` lists): that is OpenAPI 3.1, and 3.0
tools (schemathesis) refuse the body of `/predict` under the 3.0.2 label. The refusals the
service's middlewares answer, the one error body of every 4xx, and the key are documented here.
"""

from __future__ import annotations

import json
from typing import Any

from bentos.asgi import ASGIApp, Scope
from bentos.error_body import ErrorBody

OPENAPI_VERSION = "3.1.0"
DOCS_PAGE = "/"  # BentoML's Swagger UI, which reads /docs.json
REFUSALS = {
    400: "invalid request: each field at fault is named",
    401: "missing or unknown API key",
    404: "no such route",
    413: "request body larger than the limit",
    415: "request body not application/json",
    429: "rate limit exceeded (per key; per client address for wrong keys)",
}


def published_spec(service: Any) -> dict[str, Any]:
    spec: dict[str, Any] = service.openapi_spec.asdict()
    spec["openapi"] = OPENAPI_VERSION
    components = spec["components"]
    components["securitySchemes"] = {
        "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components["schemas"].update(error.pop("$defs", {}))
    components["schemas"]["ErrorBody"] = error
    for name in ("InvalidArgument", "NotFound"):  # BentoML's shapes: the service never sends them
        components["schemas"].pop(name, None)
    answer = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    }
    predict = spec["paths"]["/predict"]["post"]
    predict["security"] = [{"api_key": []}]
    predict["responses"].update(
        {str(code): {"description": text, **answer} for code, text in REFUSALS.items()}
    )
    return spec


class PublishedSpec:
    """Answers GET /docs.json with `published_spec`, built once, and GET /docs with a redirect."""

    def __init__(self, app: ASGIApp, service: Any) -> None:
        self.app, self.service = app, service
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == "/docs":
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", DOCS_PAGE.encode()),
                                    (b"content-length", b"0")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
            return
        if path != "/docs.json":
            await self.app(scope, receive, send)
            return
        if self.body is None:
            self.body = json.dumps(published_spec(self.service)).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(self.body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
