"""A FastAPI app behind CompressMiddleware with its defaults, for interop/test_real_traffic.py.

Not a test module: uvicorn serves it from a subprocess. ``/as/<media type>`` answers
:data:`BODY` with that Content-Type, so the only thing that differs between two answers is
the media type, and what the middleware does with it shows its rule for that type.
``/metrics`` is excluded by path. ``broken`` is an app whose middleware has a mistyped
option, to show where the error surfaces under a real server.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response

from asgi_compress import CompressMiddleware

__all__ = ["BODY", "BROKEN_OPTIONS", "app", "broken"]

BODY = b"".join(b"row %d, amber, basalt, cedar, %d\n" % (i, i * 7 % 13) for i in range(400))
"""About 12 KB that every coding shrinks to a fraction."""

app = FastAPI()
app.add_middleware(CompressMiddleware, exclude_paths=["/metrics"])


@app.get("/as/{media_type:path}")
async def as_media_type(media_type: str) -> Response:
    return Response(BODY, media_type=media_type)


@app.get("/metrics")
async def metrics() -> Response:
    return PlainTextResponse(BODY)


BROKEN_OPTIONS: dict[str, Any] = {"minimum_size": 500}  # Starlette GZipMiddleware's spelling

broken = Starlette()
broken.add_middleware(CompressMiddleware, **BROKEN_OPTIONS)
