"""Shared test harness: drive an ASGI app with a request and record what it sends.

``run(app, ...)`` returns a :class:`Recorded` with every message the middleware sent, in
order; ``decoder(encoding)`` returns an independent decoder (stdlib zlib, the brotli package,
the zstd module) so that what we encode is never checked with our own code.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import brotli
import pytest

from asgi_compress._types import ASGIApp, Message, Scope

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ENCODINGS = ("zstd", "br", "gzip", "deflate")

# Flask-Compress 1.25's COMPRESS_MIMETYPES, typed out from its source, in its order.
FLASK_COMPRESS_MIMETYPES = (
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "text/x-component",
    "text/javascript",
    "application/x-javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/vnd.api+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "font/ttf",
    "font/eot",
    "font/otf",
    "font/opentype",
)
ZSTD_MAX_WINDOW_LOG = 23  # RFC 9659: decoders may refuse windows above 8 MB


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Decoder:
    """Incremental decoder for one content coding, independent of asgi_compress."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._impl: Any
        if encoding == "gzip":
            self._impl = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._impl = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._impl = brotli.Decompressor()
        elif encoding == "zstd":
            self._impl = zstd.ZstdDecompressor(
                options={zstd.DecompressionParameter.window_log_max: ZSTD_MAX_WINDOW_LOG}
            )
        else:
            raise ValueError(encoding)

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "br":
            # brotli >= 1.2 hands output back in slices; drain what this input produced.
            out = bytearray(self._impl.process(data))
            while not self._impl.is_finished() and (more := self._impl.process(b"")):
                out += more
            return bytes(out)
        if self.encoding == "zstd":
            # A zstd body may hold several frames (a skippable padding frame first).
            out = bytearray()
            while data:
                if self._impl.eof:
                    self._impl = zstd.ZstdDecompressor(
                        options={zstd.DecompressionParameter.window_log_max: ZSTD_MAX_WINDOW_LOG}
                    )
                out += self._impl.decompress(data)
                data = self._impl.unused_data if self._impl.eof else b""
            return bytes(out)
        return bytes(self._impl.decompress(data))

    @property
    def eof(self) -> bool:
        if self.encoding == "br":
            return bool(self._impl.is_finished())
        return bool(self._impl.eof)


def decode(encoding: str, data: bytes) -> bytes:
    """Decode a whole body and insist that the stream is complete."""
    d = Decoder(encoding)
    out = d.feed(data)
    assert d.eof, f"{encoding} stream did not reach its end"
    return out


@dataclass
class Recorded:
    messages: list[Message] = field(default_factory=list)
    app_scope: Scope | None = None

    @property
    def start(self) -> Message:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        return starts[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> dict[str, str]:
        """Headers by lowercase name; repeated names joined with ", "."""
        result: dict[str, str] = {}
        for name, value in self.start["headers"]:
            key = name.decode().lower()
            result[key] = f"{result[key]}, {value.decode()}" if key in result else value.decode()
        return result

    def header_lines(self, name: str) -> list[str]:
        return [v.decode() for n, v in self.start["headers"] if n.decode().lower() == name]

    @property
    def bodies(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.bodies)

    def decoded(self) -> bytes:
        encoding = self.headers.get("content-encoding")
        return decode(encoding, self.body) if encoding else self.body


def make_scope(
    *,
    method: str = "GET",
    path: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    accept_encoding: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> Scope:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if accept_encoding is not None:
        raw.append((b"accept-encoding", accept_encoding.encode("latin-1")))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


async def run(
    app: ASGIApp,
    scope: Scope | None = None,
    *,
    on_send: Callable[[Message], Any] | None = None,
    deadline: float = 5,
    **scope_kwargs: Any,
) -> Recorded:
    """Call ``app`` once; record every message it sends. Never hangs: ``fail_after``."""
    recorded = Recorded()
    scope = scope if scope is not None else make_scope(**scope_kwargs)
    received = False

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        recorded.messages.append(message)
        if on_send is not None:
            on_send(message)

    with anyio.fail_after(deadline):
        await app(scope, receive, send)
    return recorded


def app_sending(messages: Sequence[Message], *, record_scope: Recorded | None = None) -> ASGIApp:
    """A raw ASGI app that sends exactly ``messages``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if record_scope is not None:
            record_scope.app_scope = scope
        for message in messages:
            await send(dict(message))

    return app


def start(
    status: int = 200,
    content_type: str | None = "text/plain",
    headers: Iterable[tuple[str, str]] = (),
    content_length: int | None = None,
    **extra: Any,
) -> Message:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if content_type is not None:
        raw.append((b"content-type", content_type.encode()))
    if content_length is not None:
        raw.append((b"content-length", str(content_length).encode()))
    return {"type": "http.response.start", "status": status, "headers": raw, **extra}


def body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def text(size: int, seed: int = 0) -> bytes:
    """Deterministic, compressible, not trivially repetitive bytes of a given size."""
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    out = bytearray()
    i = seed
    while len(out) < size:
        out += words[(i * 7 + i // 3) % len(words)] + b" %d " % (i % 97)
        i += 1
    return bytes(out[:size])
