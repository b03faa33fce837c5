"""Compression Dictionary Transport for the tests: an independent dcz decoder and payloads.

``DczDecoder`` checks the 40-byte dcz header and decodes the zstd frame with the zstd module
given the dictionary as a raw prefix (what a browser does with a ``type=raw`` dictionary),
never with our encoder. ``middleware`` serves two releases of a bundle, the second of which a
client that stored the first (``store_v1``) may fetch as dcz.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
from typing import Any

from asgi_compress import CompressMiddleware
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.dictionaries.transport import DczEncoder

from .asgi import Recorded, body, run, start

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

SKIPPABLE_MAGIC = 0x184D2A5E


class DczDecoder:
    """Checks the 40-byte header, then decodes the zstd frame with the dictionary as a raw
    prefix, refusing windows over ``window_log_max``."""

    def __init__(self, dictionary: bytes, *, window_log_max: int = 23) -> None:
        self._dictionary = dictionary
        self._pending = b""
        self._header_checked = False
        self._zstd = zstd.ZstdDecompressor(
            zstd_dict=zstd.ZstdDict(dictionary, is_raw=True).as_prefix,
            options={zstd.DecompressionParameter.window_log_max: window_log_max},
        )

    def feed(self, data: bytes) -> bytes:
        if not self._header_checked:
            self._pending += data
            if len(self._pending) < 40:
                return b""
            header, data = self._pending[:40], self._pending[40:]
            magic, size = (
                int.from_bytes(header[:4], "little"),
                int.from_bytes(header[4:8], "little"),
            )
            assert (magic, size) == (SKIPPABLE_MAGIC, 32), header[:8].hex()
            assert header[8:] == hashlib.sha256(self._dictionary).digest()
            self._header_checked = True
        return self._zstd.decompress(data)

    @property
    def eof(self) -> bool:
        return bool(self._zstd.eof) and not self._zstd.unused_data


def decode_dcz(body: bytes, dictionary: bytes, *, window_log_max: int = 23) -> bytes:
    decoder = DczDecoder(dictionary, window_log_max=window_log_max)
    out = decoder.feed(body)
    assert decoder.eof, "the dcz body did not end with a complete zstd frame"
    return out


def encoder_for(dictionary: bytes, level: int = 3) -> DczEncoder:
    return DczEncoder(dictionary, hashlib.sha256(dictionary).digest(), level)


def bundle(version: int, size: int = 120_000) -> bytes:
    """A JavaScript-like bundle; versions differ in a few places, as releases do."""
    lines = [
        b"export function handler%d(event) { return render(event, %d, 'label-%d'); }"
        % (i, (i * 37) % 1000, i)
        for i in range(size // 70)
    ]
    for i in range(version * 11 % 97, len(lines), 400):
        lines[i] = b"export function handler%d(event) { return renderV%d(event); }" % (i, version)
    return b"\n".join(lines) + b"\n"


def api_samples(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    roles = ["admin", "staff", "viewer", "editor", "billing"]
    return [
        json.dumps(
            {
                "id": i,
                "username": f"user{i:05d}",
                "email": f"user{i:05d}@example.com",
                "roles": rng.sample(roles, 2),
                "profile": {"locale": rng.choice(["en-US", "fr-FR", "de-DE"]), "tz": "UTC"},
                "active": rng.random() < 0.9,
            }
        ).encode()
        for i in range(count)
    ]


CHROMIUM_AE = "gzip, deflate, br, zstd, dcb, dcz"
CACHEABLE = ("cache-control", "public, max-age=3600")
JS = "text/javascript"


def available(data: bytes) -> tuple[str, str]:
    return ("available-dictionary", f":{base64.b64encode(hashlib.sha256(data).digest()).decode()}:")


V1 = [start(200, JS, [CACHEABLE]), body(bundle(1))]


def middleware(v2: list[Message], **options: Any) -> CompressMiddleware:
    """The middleware over an app serving app.v1.js and, at app.v2.js, ``v2``."""
    by_path = {"/static/app.v1.js": V1, "/static/app.v2.js": v2}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in by_path[scope["path"]]:
            await send(dict(message))

    options["dictionary_paths"] = ["/static/app.*.js"]
    return CompressMiddleware(app, **options)


def vary(recorded: Recorded) -> set[str]:
    return {v.strip().lower() for v in recorded.headers.get("vary", "").split(",")}


async def store_v1(mw: CompressMiddleware) -> None:
    """Serve app.v1.js through ``mw`` once: it announces and keeps it as a dictionary."""
    recorded = await run(mw, path="/static/app.v1.js", accept_encoding=CHROMIUM_AE)
    assert recorded.header_lines("use-as-dictionary") == ['match="/static/app.*.js", type=raw']
    assert recorded.decoded() == bundle(1)
