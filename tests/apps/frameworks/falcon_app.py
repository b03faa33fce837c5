"""Falcon (``falcon.asgi.App``) behind CompressMiddleware: the app object, wrapped.

Falcon's own middleware components see requests and responses, not ASGI messages, so an ASGI
middleware goes around the app: ``app = CompressMiddleware(falcon.asgi.App())``.
"""

from __future__ import annotations

import falcon
import falcon.asgi

from asgi_compress import CompressMiddleware

from . import ITEMS, PAGE, astream_chunks

__all__ = ["app"]


class Page:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.data = PAGE


class Items:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = ITEMS


class Stream:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = astream_chunks()


falcon_app = falcon.asgi.App()
falcon_app.add_route("/page", Page())
falcon_app.add_route("/api/items", Items())
falcon_app.add_route("/stream", Stream())

# Falcon types the scope as dict[str, Any], narrower than the MutableMapping the middleware
# hands on (asgi_compress._types): the same app works, mypy only needs telling.
app = CompressMiddleware(falcon_app)  # type: ignore[arg-type]
