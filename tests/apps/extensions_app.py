"""Answers with the ASGI extensions the app sees behind the middleware
(``tests.apps.extensions_app:app``, for tests/interop/test_interop.py)."""

from __future__ import annotations

import json

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send


async def _report_extensions(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(sorted(scope.get("extensions") or {})).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = CompressMiddleware(_report_extensions)
