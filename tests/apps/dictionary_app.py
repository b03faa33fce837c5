"""The app the dictionary interop tests serve (``tests.apps.dictionary_app:app``).

A raw ASGI app behind CompressMiddleware with dictionary options, wrapped by a recorder that
remembers, per request, the headers the server received and the Content-Encoding the
middleware answered with; ``GET /_seen`` returns that record as JSON (served by the recorder,
around the middleware). The tests poll it to see when Chromium has stored a dictionary: its
requests then carry ``Available-Dictionary``.

Resources:
    /page1.html, /page2.html       load /static/app.v1.js, /static/app.v2.js
    /static/app.v1.js, .v2.js      cacheable; dictionaries by ``dictionary_paths``
    /static/app.probe.js           matches the pattern, but no-store: never a dictionary
    /api.html                      HTML: gets ``Link: rel="compression-dictionary"``
    /api/items/N, /api/probe       JSON the trained dictionary serves (probe: no-store)
"""

from __future__ import annotations

import json
import random
from typing import Any

from asgi_compress import CompressMiddleware
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.dictionaries.options import ProvidedDictionary
from asgi_compress.dictionaries.transport import train_dictionary

__all__ = ["API_DICTIONARY_PATH", "app", "bundle", "item"]

API_DICTIONARY_PATH = "/_dictionaries/api.dict"


def bundle(version: int) -> bytes:
    """A ~120 KB script; versions differ in a few functions, as releases do."""
    lines = [
        b"function handler%d(event) { return ['label-%d', event, %d].join(':'); }"
        % (i, i, (i * 37) % 1000)
        for i in range(1700)
    ]
    for i in range(version * 11 % 97, len(lines), 400):
        lines[i] = b"function handler%d(event) { return 'v%d:' + event; }" % (i, version)
    lines.append(b"window.loaded = (window.loaded || []).concat(['v%d']);" % version)
    return b"\n".join(lines) + b"\n"


def item(n: int) -> bytes:
    """One JSON API response; its siblings share most of their structure."""
    rng = random.Random(n)
    roles = ["admin", "staff", "viewer", "editor", "billing"]
    return json.dumps(
        {
            "id": n,
            "username": f"user{n:05d}",
            "email": f"user{n:05d}@example.com",
            "roles": rng.sample(roles, 2),
            "profile": {"locale": rng.choice(["en-US", "fr-FR", "de-DE"]), "tz": "UTC"},
            "preferences": {"theme": rng.choice(["dark", "light"]), "news": rng.random() < 0.5},
            "active": True,
        }
    ).encode()


API_DICTIONARY = train_dictionary([item(n) for n in range(1000, 1400)], 8 * 1024)

_SCRIPT = b"text/javascript; charset=utf-8"
_HTML = b"text/html; charset=utf-8"
_JSON = b"application/json"
_CACHEABLE = b"public, max-age=3600"


def _page(script: str) -> bytes:
    return b"<!doctype html><title>dcz</title><script src=%s></script>" % script.encode()


def _resource(path: str) -> tuple[bytes, bytes, bytes] | None:
    """(content type, cache control, body) for a path, or None."""
    if path == "/page1.html":
        return _HTML, b"no-store", _page("/static/app.v1.js")
    if path == "/page2.html":
        return _HTML, b"no-store", _page("/static/app.v2.js")
    if path == "/api.html":
        return _HTML, b"no-store", b"<!doctype html><title>api</title><p>api</p>"
    if path == "/static/app.v1.js":
        return _SCRIPT, _CACHEABLE, bundle(1)
    if path == "/static/app.v2.js":
        return _SCRIPT, _CACHEABLE, bundle(2)
    if path == "/static/app.probe.js":
        return _SCRIPT, b"no-store", b"/* probe */" * 60
    if path == "/api/probe":
        return _JSON, b"no-store", item(0)
    for prefix in ("/api/items/", "/api/padded/"):
        if path.startswith(prefix) and path.removeprefix(prefix).isdigit():
            return _JSON, b"no-cache", item(int(path.removeprefix(prefix)))
    return None


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    resource = _resource(scope["path"])
    if resource is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    content_type, cache_control, body = resource
    headers = [
        (b"content-type", content_type),
        (b"cache-control", cache_control),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_options: dict[str, Any] = {
    "min_size": 64,  # the API responses are a few hundred bytes: dcz is for those too
    "dictionary_paths": ["/static/app.*.js"],
    "dictionaries": [
        ProvidedDictionary(API_DICTIONARY, match="/api/*", url_path=API_DICTIONARY_PATH, id="api-1")
    ],
}
_compressed = CompressMiddleware(_inner, **_options)
# /api/padded/*: at most 64 bytes of padding keep its small dcz answers smaller than the body
_padded = CompressMiddleware(_inner, breach_padding=64, **_options)

_seen: list[dict[str, Any]] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The middleware behind a recorder of requests and the codings answered."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/_seen":
        body = json.dumps(_seen).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    record: dict[str, Any] = {
        "path": scope["path"],
        "request": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        "content-encoding": None,
        "length": 0,  # the body's bytes as sent
    }
    _seen.append(record)

    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-encoding":
                    record["content-encoding"] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            record["length"] += len(message.get("body", b""))
        await send(message)

    padded = scope["path"].startswith("/api/padded/")
    await (_padded if padded else _compressed)(scope, receive, recording_send)
