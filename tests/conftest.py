"""Shared test harness: drive an ASGI app with a request and record what it sends.

``run(app, ...)`` returns a :class:`Recorded` with every message the middleware sent, in
order. The server's side of the request is a :class:`Client`: what ``receive()`` returns (the
request body, then ``http.disconnect`` once the client has gone) and what ``send()`` does (yield
to the loop, fail at the n-th message, drop messages after a disconnect, as servers do); a test
passes ``client=Client(...)`` instead of writing its own closures, or, for a one-off, plain
``receive=`` / ``send=`` callables. ``Decoder(encoding)`` is an independent decoder (stdlib
zlib, the brotli package, the zstd module) so that what we encode is never checked with our
own code.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import brotli
import pytest
from hypothesis import settings

from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from asgi_compress.http.negotiation import AcceptEncoding

from .tracked import EncoderTracker

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ENCODINGS = ("zstd", "br", "gzip", "deflate")

# No test may depend on timing: hypothesis's default 200 ms deadline per example would fail
# a property on a busy machine, so no property has one (explicit settings inherit this).
settings.register_profile("asgi-compress", deadline=None)
settings.load_profile("asgi-compress")

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
# Issue 9: what GZipMiddleware compressed and a Flask-Compress list did not, the peers'
# (Caddy, Cloudflare, nginx/h5bp) text types, and every Flask-Compress type.
NEWLY_COMPRESSED = (
    "text/csv",
    "application/x-ndjson",
    "application/problem+json",
    "application/geo+json",
    "application/ld+json",
    "text/markdown",
    "application/yaml",
    "application/wasm",
    "application/graphql-response+json",
    "text/calendar",
    "text/event-stream",
    "text/vtt",
    "application/x-yaml",
    "application/openapi+yaml",
    "application/soap+xml",
    "image/bmp",
    "application/x-protobuf",
    "application/vnd.ms-fontobject",
    "font/collection",
    "multipart/mixed",
)
ALREADY_COMPRESSED = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/avif",
    "image/gif",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
    "video/webm",
    "font/woff",
    "font/woff2",
    "application/zip",
    "application/gzip",
    "application/zstd",
    "application/x-7z-compressed",
    "application/pdf",
    "application/octet-stream",
    "application/epub+zip",
)

ZSTD_MAX_WINDOW_LOG = 23  # RFC 9659: decoders may refuse windows above 8 MB


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[EncoderTracker]:
    """Track every encoder made by a middleware built after this fixture (tests/tracked.py)."""
    tracker = EncoderTracker().install(monkeypatch)
    yield tracker
    # Whatever the test did, no encoder call may still run once it is over.
    assert tracker.wait_idle(), "an encoder call was still running after the test"


def record_parsed_headers(patch: pytest.MonkeyPatch) -> list[str]:
    """Every value ``AcceptEncoding.from_header`` (public) parses while ``patch`` is active:
    what was parsed afresh, and what was answered without parsing (memoized, or refused)."""
    parsed: list[str] = []
    real = AcceptEncoding.from_header.__func__  # type: ignore[attr-defined]

    def counting(cls: type[AcceptEncoding], value: str) -> AcceptEncoding:
        parsed.append(value)
        result: AcceptEncoding = real(cls, value)
        return result

    patch.setattr(AcceptEncoding, "from_header", classmethod(counting))
    return parsed


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


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """``data`` as zlib's gzip stream (a 10-byte header, mtime 0), as our encoder frames it.

    ``zlib.compress(data, level, wbits)`` takes ``wbits`` only from Python 3.11 on.
    """
    z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


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


class Client:
    """The server's side of one request, scripted: what ``receive()`` and ``send()`` do.

    ``receive()`` returns the request (``body``) once; after that it waits until the client
    has gone or the response is complete (its last body message delivered), then returns
    ``http.disconnect``, every time it is called (ASGI HTTP spec: "if receive is called after
    a response has been sent or after the HTTP connection has been closed"; Quart 0.23 waits
    for it before its app call returns).
    ``send()`` records each message it delivers in ``recorded``, in order.

    Args:
        body: the request body, in one ``http.request`` message.
        yields: ``send()`` yields to the event loop before delivering (most servers do
            when their write buffer is full; the default, ``False``, is the case where
            they never do).
        leave_after: the client goes away once this many messages have been delivered:
            ``receive()`` then returns ``http.disconnect``, and later messages are dropped
            silently, as uvicorn does.
        fail_at: ``send()`` raises ``error`` instead of delivering the message with this
            index (0 is the first message), and every message after it (ASGI 2.4: a
            server may raise ``OSError`` once the client has gone).
        error: what ``send()`` raises from ``fail_at`` on.
    """

    def __init__(
        self,
        *,
        body: bytes = b"",
        yields: bool = False,
        leave_after: int | None = None,
        fail_at: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        if (fail_at is None) != (error is None):
            raise ValueError("fail_at and error go together")
        self.body = body
        self.yields = yields
        self.leave_after = leave_after
        self.fail_at = fail_at
        self.error = error
        self.recorded = Recorded()
        self.on_send: Callable[[Message], Any] | None = None
        self._requested = False
        self._left = leave_after is not None and leave_after <= 0
        self._complete = False
        self._disconnect: anyio.Event | None = None

    @property
    def delivered(self) -> list[Message]:
        return self.recorded.messages

    def _disconnect_event(self) -> anyio.Event:
        """Set once ``receive()`` returns ``http.disconnect``: the client left or the response
        is complete."""
        if self._disconnect is None:  # made on first use: an anyio Event needs a running loop
            self._disconnect = anyio.Event()
            if self._left or self._complete:
                self._disconnect.set()
        return self._disconnect

    def _end(self) -> None:
        if self._disconnect is not None:
            self._disconnect.set()

    @property
    def gone(self) -> bool:
        return self._left

    def leave(self) -> None:
        """The client goes away now: ``receive()`` returns ``http.disconnect``."""
        self._left = True
        self._end()

    async def receive(self) -> Message:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._disconnect_event().wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.yields:
            await anyio.lowlevel.checkpoint()
        if self.error is not None and len(self.delivered) >= (self.fail_at or 0):
            raise self.error
        if self.gone:
            return  # uvicorn drops what is sent after a disconnect
        self.delivered.append(message)
        if self.on_send is not None:
            self.on_send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._complete = True
            self._end()
        if self.leave_after is not None and len(self.delivered) >= self.leave_after:
            self.leave()


async def run(
    app: ASGIApp,
    scope: Scope | None = None,
    *,
    client: Client | None = None,
    receive: Receive | None = None,
    send: Send | None = None,
    on_send: Callable[[Message], Any] | None = None,
    deadline: float = 5,
    **scope_kwargs: Any,
) -> Recorded:
    """Call ``app`` once; record every message it sends. Never hangs: ``fail_after``.

    Args:
        client: the server's side (default: a plain ``Client()``); what it delivered is
            returned, and stays in ``client.recorded`` when the app raises.
        receive: replaces ``client.receive`` (for a one-off script).
        send: awaited with each message before the client records it (for a one-off
            script: it may raise, or wait).
        on_send: called with each message the client delivers.
        deadline: seconds before the call fails as hung.
        scope_kwargs: for ``make_scope`` when ``scope`` is not given.
    """
    client = client if client is not None else Client()
    if on_send is not None:
        client.on_send = on_send
    scope = scope if scope is not None else make_scope(**scope_kwargs)

    async def deliver(message: Message) -> None:
        if send is not None:
            await send(message)
        await client.send(message)

    with anyio.fail_after(deadline):
        await app(scope, receive if receive is not None else client.receive, deliver)
    return client.recorded


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
