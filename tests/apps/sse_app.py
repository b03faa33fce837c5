"""An event stream paced by its reader, for the interop tests (``tests.apps.sse_app:app``).

``GET /events?stream=ID`` sends :data:`EVENT_COUNT` events, each only after the reader has
acknowledged the one before with ``GET /ack?stream=ID&n=N``; then it ends. A reader can only
acknowledge event N once it has decoded it, and the server sends nothing more until then: so
a reader that receives every event proves that each one was decodable from the bytes that had
arrived when it was sent (a middleware holding part of event N back would stall the stream
for good). No clock is involved. ``GET /`` is a page whose ``EventSource`` does exactly that
and sets ``document.body.dataset.events = "done"`` after the last event.

A stream whose ID has already been served answers 204, which tells an ``EventSource`` not to
reconnect (WHATWG HTML, server-sent events). The server restricts itself to the coding in the
``ASGI_COMPRESS_ALGORITHM`` environment variable, if set, as ``examples/starlette_app.py`` does.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from urllib.parse import parse_qs

import anyio

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send

__all__ = ["EVENT_COUNT", "app", "event_data", "event_text"]

EVENT_COUNT = 5
ACK_DEADLINE = 20  # seconds a stream waits for an acknowledgement before it gives up

_acked: defaultdict[tuple[str, int], anyio.Event] = defaultdict(anyio.Event)
_served: set[str] = set()


def event_data(n: int) -> str:
    """The data of the ``n``-th event (1-based): compressible, and different each time."""
    return json.dumps(
        {"n": n, "of": EVENT_COUNT, "words": [f"word{n * i % 97}" for i in range(60)]}
    )


def event_text(n: int) -> bytes:
    """The ``n``-th event on the wire."""
    return f"id: {n}\ndata: {event_data(n)}\n\n".encode()


PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>events</title><link rel="icon" href="data:,"></head>
<body><script>
  window.received = [];
  const stream = String(Math.random()).slice(2);
  const source = new EventSource("/events?stream=" + stream);
  source.onmessage = async (event) => {{
    window.received.push(event.data);
    const n = window.received.length;
    if (n === {EVENT_COUNT}) {{
      source.close();
      document.body.dataset.events = "done";
    }}
    await fetch("/ack?stream=" + stream + "&n=" + n, {{cache: "no-store"}});
  }};
</script></body></html>
""".encode()


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _events(stream: str, send: Send) -> None:
    if stream in _served:
        await _respond(send, 204, b"", b"text/plain")
        return
    _served.add(stream)
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    with anyio.fail_after(ACK_DEADLINE):
        for n in range(1, EVENT_COUNT + 1):
            if n > 1:
                await _acked[(stream, n - 1)].wait()
            await send({"type": "http.response.body", "body": event_text(n), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    query = {name: values[0] for name, values in parse_qs(scope["query_string"].decode()).items()}
    if scope["path"] == "/events":
        await _events(query["stream"], send)
    elif scope["path"] == "/ack":
        _acked[(query["stream"], int(query["n"]))].set()
        await _respond(send, 200, b"ok", b"text/plain")
    elif scope["path"] == "/":
        await _respond(send, 200, PAGE, b"text/html; charset=utf-8")
    else:
        await _respond(send, 404, b"not found", b"text/plain")


_algorithm = os.environ.get("ASGI_COMPRESS_ALGORITHM", "").strip()
app = CompressMiddleware(_app, algorithm=_algorithm) if _algorithm else CompressMiddleware(_app)
