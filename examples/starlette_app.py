"""A Starlette app behind CompressMiddleware: a page, a JSON API, server-sent events, static files.

Run it from the repository root, then open http://127.0.0.1:8000/::

    uvicorn examples.starlette_app:app

What each route shows:

- ``/``: an HTML page of a few KB. It links ``/static/app.css`` and ``/static/app.js``, and a
  small inline script fetches ``/api/items`` and opens an ``EventSource`` on ``/events``,
  writing what arrives into the page.
- ``/api/items``: a JSON document of some tens of KB, compressed in one shot.
- ``/events``: a ``text/event-stream`` of :data:`EVENT_COUNT` events sent
  :data:`EVENT_INTERVAL` seconds apart, then the end of the stream. Each event is compressed
  and flushed as it is sent, so the browser sees it at once, not when the stream ends.
- ``/static/...``: files served by Starlette's ``StaticFiles`` from ``examples/static/``. The
  CSS and JS are compressed; the PNG is not (``image/png`` is not in the default mimetypes).
  Under a server that offers the ASGI path-send extension (granian), the files go out as
  ``http.response.pathsend`` and the middleware reads and compresses them in chunks.

Environment:
    ASGI_COMPRESS_ALGORITHM: the codings the middleware may choose, in its order of
        preference, comma-separated (``"br"``, ``"zstd, gzip"``). Unset, the middleware's
        default applies: zstd, br, gzip, deflate. A browser accepts all four, so this is how
        the interop tests make it receive each one in turn::

            ASGI_COMPRESS_ALGORITHM=gzip uvicorn examples.starlette_app:app
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from asgi_compress import CompressMiddleware
from asgi_compress.settings import Options

__all__ = [
    "ALGORITHM_ENV",
    "EVENT_COUNT",
    "EVENT_INTERVAL",
    "STATIC_DIR",
    "app",
    "event_text",
    "items",
]

STATIC_DIR = Path(__file__).parent / "static"
ALGORITHM_ENV = "ASGI_COMPRESS_ALGORITHM"

EVENT_COUNT = 5
"""How many events ``/events`` sends before it ends."""

EVENT_INTERVAL = 0.2
"""Seconds between two events of ``/events``."""

_WORDS = ("amber", "basalt", "cedar", "dune", "ember", "fjord", "granite", "harbor", "iris")
_TAGS = ("new", "sale", "eco", "bulk", "gift", "local", "limited")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>asgi-compress: Starlette example</title>
  <link rel="icon" href="/static/logo.png" type="image/png">
  <link rel="stylesheet" href="/static/app.css">
</head>
<body>
  <header class="masthead">
    <img src="/static/logo.png" alt="" width="32" height="32" id="logo">
    <h1>asgi-compress</h1>
    <p class="tagline">Response compression for any ASGI app: zstd, br, gzip and deflate.</p>
  </header>
  <main>
    <section class="card" id="about">
      <h2>What you are looking at</h2>
      <p>
        This page, its stylesheet, its script, the JSON below and the live events all travel
        through <code>CompressMiddleware</code>. Open the network panel of your browser: each
        of them carries a <code>Content-Encoding</code> chosen from your browser's
        <code>Accept-Encoding</code>, and a <code>Vary: Accept-Encoding</code> so that caches
        keep each variant apart. The logo is a PNG: it is already compressed, so it passes
        through untouched.
      </p>
      <table class="codings">
        <thead><tr><th>Token</th><th>Format</th><th>Notes</th></tr></thead>
        <tbody>
          <tr><td><code>zstd</code></td><td>Zstandard (RFC 8878)</td>
            <td>Window capped at 8 MB, as RFC 9659 asks of HTTP.</td></tr>
          <tr><td><code>br</code></td><td>Brotli (RFC 7932)</td>
            <td>Strong on text; level 4 by default keeps it fast.</td></tr>
          <tr><td><code>gzip</code></td><td>gzip (RFC 1952)</td>
            <td>Understood by every client ever written.</td></tr>
          <tr><td><code>deflate</code></td><td>zlib (RFC 1950)</td>
            <td>The zlib-wrapped format HTTP means by deflate, never raw deflate.</td></tr>
        </tbody>
      </table>
    </section>
    <section class="card" id="catalogue">
      <h2>Items <span class="badge" id="item-count">...</span></h2>
      <p class="hint">Fetched from <code>/api/items</code> by the inline script below.</p>
      <ul id="items" class="items"></ul>
    </section>
    <section class="card" id="live">
      <h2>Live events</h2>
      <p class="hint">
        An <code>EventSource</code> on <code>/events</code>: each event is compressed and
        flushed on its own, so it shows up here the moment the server sends it.
      </p>
      <p id="status" class="status">connecting...</p>
      <ol id="events" class="events"></ol>
    </section>
  </main>
  <footer class="footer">Served by Starlette behind asgi-compress.</footer>
  <script src="/static/app.js"></script>
  <script>
    "use strict";
    // Arrival times of the events, for the interop tests (milliseconds, performance.now()).
    window.eventArrivals = [];
    fetch("/api/items")
      .then((response) => response.json())
      .then((data) => {
        App.renderItems(document.getElementById("items"), data.items);
        document.getElementById("item-count").textContent = String(data.count);
        document.body.dataset.items = "loaded";
      })
      .catch((error) => App.setStatus("items failed: " + error, "error"));
    const source = new EventSource("/events");
    source.addEventListener("tick", (event) => {
      window.eventArrivals.push(performance.now());
      const data = JSON.parse(event.data);
      App.appendEvent(document.getElementById("events"), data);
      App.setStatus("event " + data.n + " of " + data.of, "live");
      if (data.n === data.of) {
        // The stream ends after its last event: close, or EventSource would reconnect.
        source.close();
        App.setStatus("all " + data.of + " events received", "done");
        document.body.dataset.events = "done";
      }
    });
    source.onerror = () => App.setStatus("event stream error", "error");
  </script>
</body>
</html>
"""


def items() -> list[dict[str, Any]]:
    """The catalogue ``/api/items`` serves: deterministic, so tests can compare bytes."""
    catalogue: list[dict[str, Any]] = []
    for i in range(1, 241):
        first, second = _WORDS[i % len(_WORDS)], _WORDS[(i * 5 + 2) % len(_WORDS)]
        catalogue.append(
            {
                "id": i,
                "sku": f"SKU-{i:05d}",
                "name": f"{first.title()} {second} no. {i}",
                "price": round(3.5 + (i * 37 % 200) / 4, 2),
                "in_stock": i % 7 != 0,
                "tags": [_TAGS[(i + k) % len(_TAGS)] for k in range(i % 3 + 1)],
                "description": f"A {first} {second} item, batch {i % 13}, shelf {i % 29}.",
            }
        )
    return catalogue


def event_text(n: int) -> str:
    """The ``n``-th event of ``/events`` (1-based), as sent on the wire."""
    data = {
        "n": n,
        "of": EVENT_COUNT,
        "message": f"tick {n} of {EVENT_COUNT}",
        # Repetitive on purpose: every event is worth compressing on its own.
        "detail": " ".join(f"{_WORDS[(n + k) % len(_WORDS)]}-{k % 4}" for k in range(40)),
    }
    return f"id: {n}\nevent: tick\ndata: {json.dumps(data)}\n\n"


_ITEMS = items()
_ITEMS_BODY = {"count": len(_ITEMS), "items": _ITEMS}


async def homepage(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def api_items(request: Request) -> JSONResponse:
    return JSONResponse(_ITEMS_BODY)


async def _event_stream() -> AsyncIterator[str]:
    for n in range(1, EVENT_COUNT + 1):
        if n > 1:
            await anyio.sleep(EVENT_INTERVAL)
        yield event_text(n)


async def events(request: Request) -> StreamingResponse:
    return StreamingResponse(
        _event_stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


def _options_from_env() -> Options:
    options: Options = {}
    algorithm = os.environ.get(ALGORITHM_ENV, "").strip()
    if algorithm:
        options["algorithm"] = algorithm
    return options


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/api/items", api_items),
        Route("/events", events),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
)
app.add_middleware(CompressMiddleware, **_options_from_env())
