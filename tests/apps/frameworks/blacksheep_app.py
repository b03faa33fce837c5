"""BlackSheep behind CompressMiddleware: the application, wrapped.

BlackSheep's middlewares see its Request and Response objects, not ASGI messages, so an ASGI
middleware goes around the app: ``app = CompressMiddleware(Application())``. BlackSheep starts
itself on its first request when no lifespan event came, so the wrap needs nothing else.
"""

from __future__ import annotations

from blacksheep import Application, Response, StreamedContent, html, json

from asgi_compress import CompressMiddleware

from . import ITEMS, PAGE, astream_chunks

__all__ = ["app"]

blacksheep_app = Application()


@blacksheep_app.router.get("/page")
async def page() -> Response:
    return html(PAGE.decode())


@blacksheep_app.router.get("/api/items")
async def items() -> Response:
    return json(ITEMS)


@blacksheep_app.router.get("/stream")
async def stream() -> Response:
    return Response(200, content=StreamedContent(b"text/plain; charset=utf-8", astream_chunks))


app = CompressMiddleware(blacksheep_app)
