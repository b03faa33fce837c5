"""A Quart app compressed by the Flask-Compress-shaped extension: HTML, JSON, a stream, static
files and the cache.

Run it from the repository root, then open http://127.0.0.1:8000/::

    uvicorn examples.quart_app:app

What each route shows:

- ``/``: an HTML page of a few KB, compressed in one shot. It links ``/static/app.css`` and
  ``/static/app.js``; the script fetches ``/api/items`` and reads ``/stream`` into the page.
- ``/api/items``: a JSON document of some tens of KB. It is a buffered response, so its
  compressed body is kept in ``compress.cache`` (a bounded in-memory :class:`DictCache`)
  under ``"<coding>;<url>"``: the view still runs on a hit, only the compression is saved.
- ``/stream``: an async generator of :data:`STREAM_LINES` lines, :data:`STREAM_INTERVAL`
  seconds apart. Each line is compressed and flushed as it is sent.
- ``/raw``: the same page, never compressed (``@compress.uncompressed()``).
- ``/static/...``: files from ``examples/quart_static/``. The CSS and JS are compressed as
  Quart reads them and answer 304 to their (suffixed) ETag; the PNG is not compressed.

Try it::

    curl -s -H 'Accept-Encoding: br' http://127.0.0.1:8000/ | python -m brotli -d
    curl -sN -H 'Accept-Encoding: gzip' http://127.0.0.1:8000/stream | gunzip
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from quart import Quart, Request, Response

from asgi_compress import Compress, DictCache

__all__ = ["STREAM_INTERVAL", "STREAM_LINES", "app", "compress", "items", "page", "stream_line"]

STREAM_LINES = 5
"""How many lines ``/stream`` sends before it ends."""

STREAM_INTERVAL = 0.1
"""Seconds between two lines of ``/stream``."""

_WORDS = ("amber", "basalt", "cedar", "dune", "ember", "fjord", "granite", "harbor", "iris")
_TAGS = ("new", "sale", "eco", "bulk", "gift", "local", "limited")


def page() -> str:
    """The HTML of ``/``: deterministic, a few KB."""
    rows = "\n".join(
        f'    <li class="card">Item {i}: {_WORDS[i % 9]} {_WORDS[i * 4 % 9]}</li>'
        for i in range(60)
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>asgi-compress on Quart</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/app.js" defer></script>
</head>
<body>
  <header class="header"><h1>asgi-compress on Quart</h1></header>
  <main class="main">
  <ul id="items"></ul>
  <ul>
{rows}
  </ul>
  <pre id="stream"></pre>
  </main>
</body>
</html>
"""


def items() -> list[dict[str, object]]:
    """The JSON of ``/api/items``: deterministic, some tens of KB."""
    return [
        {
            "id": i,
            "name": f"{_WORDS[i % 9]}-{_WORDS[i * 7 % 9]}",
            "price": round(1 + i * 0.37 % 90, 2),
            "tags": [_TAGS[i % 7], _TAGS[i * 3 % 7]],
        }
        for i in range(400)
    ]


def stream_line(index: int) -> str:
    """Line ``index`` of ``/stream``."""
    return f"line {index}: " + " ".join(_WORDS[(index + k) % 9] for k in range(20)) + "\n"


app = Quart(__name__, static_folder="quart_static", static_url_path="/static")
compress = Compress(app)
compress.cache = DictCache(max_bytes=8 * 1024 * 1024)


def _cache_key(request: Request) -> str:
    return request.url


compress.cache_key = _cache_key


@app.route("/")
async def index() -> str:
    return page()


@app.route("/api/items")
async def api_items() -> list[dict[str, object]]:
    return items()


@app.route("/stream")
async def stream() -> Response:
    async def lines() -> AsyncIterator[str]:
        for index in range(STREAM_LINES):
            if index:
                await anyio.sleep(STREAM_INTERVAL)
            yield stream_line(index)

    return Response(lines(), mimetype="text/plain")


@app.route("/raw")
@compress.uncompressed()
async def raw() -> str:
    return page()
