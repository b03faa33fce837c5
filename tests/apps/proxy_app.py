"""The origin behind nginx and Varnish in interop/test_proxies.py: Starlette under the middleware.

Not a test module: uvicorn serves it from a subprocess. ``/page/<name>`` answers :data:`PAGE`
(HTML, cacheable for five minutes); every request that reaches it is recorded under ``<name>``
with the Accept-Encoding it came with, and ``/seen/<name>`` lists those values in order (never
cached). Each test uses its own name, so what one test sent does not show in another's list:
the list tells which requests the proxy answered from its cache and what it asked the origin.
"""

from __future__ import annotations

from collections import defaultdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from asgi_compress import CompressMiddleware

from .frameworks import PAGE

__all__ = ["PAGE", "app"]

_seen: defaultdict[str, list[str | None]] = defaultdict(list)


async def page(request: Request) -> Response:
    _seen[request.path_params["name"]].append(request.headers.get("accept-encoding"))
    return Response(
        PAGE,
        media_type="text/html",
        headers={"Cache-Control": "public, max-age=300"},
    )


async def seen(request: Request) -> Response:
    return JSONResponse(_seen[request.path_params["name"]], headers={"Cache-Control": "no-store"})


app = CompressMiddleware(
    Starlette(routes=[Route("/page/{name}", page), Route("/seen/{name}", seen)])
)
