"""Litestar behind CompressMiddleware, declared in the app's middleware list.

Litestar builds each middleware with the next ASGI app as ``app=``: ``DefineMiddleware`` passes
the options. Litestar's own ``compression_config`` is left unset, so only ours compresses.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, get
from litestar.middleware import DefineMiddleware
from litestar.response import Stream

from asgi_compress import CompressMiddleware

from . import ITEMS, PAGE, astream_chunks

__all__ = ["app"]


@get("/page", media_type=MediaType.HTML)
async def page() -> bytes:
    return PAGE


@get("/api/items")
async def items() -> dict[str, Any]:
    return ITEMS


@get("/stream")
async def stream() -> Stream:
    return Stream(astream_chunks(), media_type="text/plain; charset=utf-8")


app = Litestar(
    route_handlers=[page, items, stream],
    # Litestar types scopes as TypedDicts, which mypy does not take for the MutableMapping the
    # middleware accepts (asgi_compress._types): the same app works, mypy only needs telling.
    middleware=[DefineMiddleware(CompressMiddleware, min_size=500)],  # type: ignore[arg-type]
)
