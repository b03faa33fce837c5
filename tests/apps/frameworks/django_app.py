"""Django (ASGI) behind CompressMiddleware: the ASGI callable Django returns, wrapped.

Settings are configured here in code, the least a Django project needs to answer requests; in a
project the same wrap goes in ``asgi.py``::

    application = CompressMiddleware(get_asgi_application())
"""

from __future__ import annotations

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

from asgi_compress import CompressMiddleware

from . import ITEMS, PAGE, astream_chunks

__all__ = ["app"]

settings.configure(
    DEBUG=False,
    SECRET_KEY="asgi-compress tests: not a secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)


async def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE, content_type="text/html; charset=utf-8")


async def items(request: HttpRequest) -> HttpResponse:
    return JsonResponse(ITEMS)


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    # An async iterator: Django streams it under ASGI without a thread per chunk.
    return StreamingHttpResponse(astream_chunks(), content_type="text/plain; charset=utf-8")


urlpatterns = [path("page", page), path("api/items", items), path("stream", stream)]

app = CompressMiddleware(get_asgi_application())
