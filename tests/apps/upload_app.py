"""A FastAPI app behind ``decompress_requests``: OTLP traces, uploads and decompression bombs
(``tests.apps.upload_app:app``, for tests/requests/test_request_body.py)."""

from __future__ import annotations

import hashlib
import resource
from typing import Any

import anyio
from fastapi import FastAPI, Request

from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp

MiB = 1024 * 1024
SERVER_MAX_SIZE = 4 * MiB
_bomb_bytes: dict[str, int] = {}
_bomb_started: dict[str, anyio.Event] = {}


def _build_server_app() -> ASGIApp:
    api = FastAPI()

    @api.post("/v1/traces")
    async def traces(payload: dict[str, Any]) -> dict[str, int]:
        spans = [
            span
            for resource_spans in payload["resourceSpans"]
            for scope_spans in resource_spans["scopeSpans"]
            for span in scope_spans["spans"]
        ]
        return {"spans": len(spans)}

    @api.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        data = await request.body()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    @api.post("/bomb/{key}")
    async def bomb(key: str, request: Request) -> dict[str, int]:
        started = _bomb_started.setdefault(key, anyio.Event())
        _bomb_bytes[key] = 0
        async for chunk in request.stream():  # counts, never holds the body
            _bomb_bytes[key] += len(chunk)
            started.set()
        return {"size": _bomb_bytes[key]}

    @api.get("/bomb/{key}/started")
    async def bomb_started(key: str) -> dict[str, int]:
        """Answers once the bomb ``key`` has handed the app its first decoded bytes."""
        await _bomb_started.setdefault(key, anyio.Event()).wait()
        return {"size": _bomb_bytes.get(key, 0)}

    @api.get("/bomb/{key}")
    async def bomb_delivered(key: str) -> dict[str, int]:
        return {"size": _bomb_bytes.get(key, -1)}

    @api.get("/maxrss")
    async def maxrss() -> dict[str, int]:
        return {"kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}

    return CompressMiddleware(
        api, decompress_requests=True, request_max_size=SERVER_MAX_SIZE, request_max_ratio=0
    )


def __getattr__(name: str) -> Any:  # built when uvicorn imports it, not when a test does
    if name == "app":
        return _build_server_app()
    raise AttributeError(name)
