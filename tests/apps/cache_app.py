"""An ASGI app behind CompressMiddleware with a shared cache, for the two-process tests.

Not a test module. ``CACHE`` in the environment picks the backend: a ``redis://`` URL or a
directory. ``/`` answers a fixed 100 KB text body with a Content-Length; the cache stores br
at level 11, so an entry made by one process is told apart from a fresh br-4 encoding.
``static_app`` serves the directory ``STATIC`` names with Starlette's StaticFiles instead.
"""

from __future__ import annotations

import os

from asgi_compress import CompressMiddleware, DirectoryCache
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.cache import CacheBackend, RedisCache
from tests.harness import text

BODY = text(100_000, seed=11)


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def _backend(where: str) -> CacheBackend:
    if where.startswith("redis://"):
        return RedisCache(where, timeout=2)
    return DirectoryCache(where)


app = CompressMiddleware(_page, cache=_backend(os.environ["CACHE"]), cache_levels={"br": 11})


def __getattr__(name: str) -> CompressMiddleware:
    # Built on first use: only the StaticFiles tests set STATIC.
    if name == "static_app":
        from starlette.staticfiles import StaticFiles

        static = StaticFiles(directory=os.environ["STATIC"])
        return CompressMiddleware(static, cache=_backend(os.environ["CACHE"]))
    raise AttributeError(name)
