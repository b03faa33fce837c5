"""One small app per ASGI framework, each behind CompressMiddleware as its users would put it.

Not test modules: uvicorn serves each app from a subprocess for interop/test_frameworks.py. Every
app answers the same three resources, built here so that the test knows what each must be:

- ``/page``: :data:`PAGE`, an HTML page sent whole;
- ``/api/items``: :data:`ITEMS` as JSON, serialised by the framework itself;
- ``/stream``: :func:`stream_chunks` sent as the framework's streamed response. The chunks add
  up to more than the 256 KiB the middleware holds before it starts a stream, so the response
  is compressed as a stream (no Content-Length) whatever the timing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = ["ITEMS", "PAGE", "STREAM_BODY", "astream_chunks", "stream_chunks"]

_WORDS = ("amber", "basalt", "cedar", "dune", "ember", "fjord", "granite", "harbor", "iris")

PAGE = (
    "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>Catalogue</title>"
    "</head><body><h1>Catalogue</h1><ul>\n"
    + "".join(
        f"<li class='item'><a href='/items/{i}'>{_WORDS[i % 9]} {_WORDS[i * 5 % 9]}</a> "
        f"<span class='price'>{i * 37 % 1000 / 10:.2f}</span></li>\n"
        for i in range(300)
    )
    + "</ul></body></html>\n"
).encode()
"""About 20 KB of HTML."""

ITEMS: dict[str, Any] = {
    "items": [
        {"id": i, "name": f"{_WORDS[i % 9]} {_WORDS[i * 7 % 9]}", "stock": i * 13 % 50}
        for i in range(400)
    ]
}
"""A JSON document of some 15 KB once serialised."""

_CHUNK_COUNT = 150


def _chunk(index: int) -> bytes:
    line = f"row {index}: " + ", ".join(_WORDS[(index + k) % 9] for k in range(9)) + "\n"
    return line.encode() * 40  # ~2.4 KB per chunk, ~360 KB in all


STREAM_BODY = b"".join(_chunk(i) for i in range(_CHUNK_COUNT))
"""Everything ``/stream`` sends, in one piece."""


def stream_chunks() -> Iterator[bytes]:
    """The chunks of ``/stream``, for frameworks that stream from a plain iterator."""
    for index in range(_CHUNK_COUNT):
        yield _chunk(index)


async def astream_chunks() -> AsyncIterator[bytes]:
    """The chunks of ``/stream``, for frameworks that stream from an async iterator."""
    for chunk in stream_chunks():
        yield chunk
