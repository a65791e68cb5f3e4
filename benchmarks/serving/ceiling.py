"""The ceiling: a bare Starlette app on uvicorn answering every POST with a constant JSON.

    python -m uvicorn benchmarks.serving.ceiling:app --port 3000 --no-access-log

It reads the body (as any server must) and answers the shape of one prediction; nothing else.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ANSWER = {"request_id": "0" * 32, "threshold": 0.5,
          "predictions": [{"flight_id": "UA1545-EWR-201307151215", "probability": 0.25,
                           "delayed": False, "model": "delay_model_lgbm:constant",
                           "role": "champion"}]}  # fmt: skip


async def predict(request: Request) -> Response:
    await request.body()
    return JSONResponse(ANSWER)


async def ready(request: Request) -> Response:
    return Response("ok")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                        Route("/readyz", ready)])  # fmt: skip
