"""Compressed request bodies: decoded inside ``receive()``, as the app reads them.

Theory of operation
-------------------
With ``decompress_requests`` on, a request whose headers carry ``Content-Encoding`` goes
through :func:`serve_decoded_request` (the middleware's only call into this module):

1. The header is read once. An unknown coding, or more than :data:`MAX_CODINGS` stacked,
   is answered 415 with ``Accept-Encoding`` naming what we decode (RFC 9110 sections
   15.5.16 and 12.5.3); the app never runs. ``identity`` is skipped and ``x-gzip`` means
   ``gzip`` (RFC 9110 section 8.4.1.3).
2. The app gets a scope without ``Content-Encoding``, ``Content-Length`` (the decoded length
   is unknown until the end) or the digest fields, which describe the coded bytes (RFC 9530).
3. Its ``receive()`` pulls the wire body through a
   :class:`~asgi_compress.requests._decoders.DecodingPipeline` in bounded batches of decoder
   calls: inline for small chunks, yielding to the event loop between batches, and on the
   compression worker threads for chunks of at least ``thread_min_size`` bytes
   (``asgi_compress.codecs._offload``). Each ``http.request`` message carries what one batch
   produced. The final one (``more_body: False``) is sent only once every stream has
   reached a clean end, so an app that reads the whole body never sees a complete body that
   was corrupt or truncated.

When the body turns out corrupt (400) or too large (413), the app has read only the decoded
bytes before the fault; it gets no byte of the failing call and no end of body. Then:

- if the app has not started its response, we answer ourselves, and ``receive()`` returns
  ``http.disconnect``: the ASGI HTTP spec sends it "if receive is called after a response
  has been sent". The app's later sends are dropped, as uvicorn drops sends to a
  disconnected client, and an exception it raises on its way out (such as Starlette's
  ``ClientDisconnect``) is logged at debug level, not raised: the response is complete.
- if the app has already started its response, ``receive()`` returns ``http.disconnect``
  as the server does for a broken body; the app's later sends are dropped, so the client
  never gets a complete-looking response computed from a broken upload, and once the app
  returns we raise :class:`BrokenRequestBody` so the server aborts the response (ASGI: an
  exception after the response started closes the connection).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from anyio.lowlevel import checkpoint

from ..codecs._offload import offload
from ._decoders import DECODERS, STEP_OUTPUT, BodyRejected, DecodingPipeline

if TYPE_CHECKING:
    from .._types import ASGIApp, Headers, Message, Receive, Scope, Send
    from ..settings import Settings

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_CODINGS",
    "BrokenRequestBody",
    "has_content_encoding",
    "serve_decoded_request",
]

logger = logging.getLogger("asgi_compress")

MAX_CODINGS = 2
"""The most codings one request may stack (``gzip, br``); more is answered 415."""

ACCEPT_ENCODING = ", ".join(DECODERS).encode("latin-1")
"""The ``Accept-Encoding`` of a 415 answer: every coding we decode."""

_CONTENT_ENCODING = b"content-encoding"
# Fields that describe the coded bytes, not the decoded ones the app reads (RFC 9110 section
# 8.6; RFC 9530 sections 2-3 for the digests).
_DROPPED = frozenset(
    (_CONTENT_ENCODING, b"content-length", b"content-digest", b"repr-digest", b"digest")
)
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 section 8.4.1.3
_DISCONNECT: Message = {"type": "http.disconnect"}


class BrokenRequestBody(Exception):
    """Raised to the server when a request body failed after the app started its response."""


def has_content_encoding(headers: Headers) -> bool:
    """Whether the request headers carry ``Content-Encoding`` (the middleware's cheap test)."""
    for name, _ in headers:
        if len(name) == 16 and (name == _CONTENT_ENCODING or name.lower() == _CONTENT_ENCODING):
            return True
    return False


async def serve_decoded_request(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, settings: Settings
) -> None:
    """Call ``app`` with the request body decoded, or answer 415/400/413 ourselves.

    Args:
        app: called with a scope whose headers no longer carry ``Content-Encoding``.
        scope: an HTTP scope whose headers do.
        receive: the server's ``receive``.
        send: the server's ``send``.
        settings: ``request_max_size``, ``request_max_ratio`` and ``thread_min_size`` apply.

    Raises:
        BrokenRequestBody: the body failed after the app had started its response.

    Example:
        >>> if settings.decompress_requests and has_content_encoding(scope["headers"]):
        ...     await serve_decoded_request(app, scope, receive, send, settings)  # doctest: +SKIP
    """
    values: list[bytes] = []
    headers: Headers = []
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == _CONTENT_ENCODING:
            values.append(value)
        if lowered not in _DROPPED:
            headers.append((name, value))
    try:
        codings = _codings(b",".join(values))
    except _Unsupported as error:
        await _send_answer(send, 415, str(error), [(b"accept-encoding", ACCEPT_ENCODING)])
        return
    scope = {**scope, "headers": headers}
    if not codings:  # "identity" only: nothing to undo
        await app(scope, receive, send)
        return
    pipeline = DecodingPipeline(
        codings, max_size=settings.request_max_size, max_ratio=settings.request_max_ratio
    )
    body = _DecodedBody(pipeline, receive, send, settings.thread_min_size)
    try:
        await app(scope, body.receive, body.send)
    except Exception:
        if not body.answered:
            raise
        # The client has its answer; this is the app reacting to http.disconnect.
        logger.debug("the app raised after its request body was refused", exc_info=True)
    if body.broken:
        raise BrokenRequestBody(
            f"the request body was refused ({body.broken}) after the response had started"
        )


# The decoder calls one batch may make: inline, between two yields to the event loop; on a
# thread, per hand-off (which costs 55-110 us, benchmarks/offload.py: worth a larger batch).
_INLINE_STEPS = 16
_THREAD_STEPS = 64
_THREAD_BUDGET = 4 * STEP_OUTPUT


def _run_on_thread(pipeline: DecodingPipeline) -> bytes:
    return pipeline.run(_THREAD_BUDGET, _THREAD_STEPS)


class _Unsupported(Exception):
    pass


def _codings(value: bytes) -> list[str]:
    """The codings of a ``Content-Encoding`` value, in the order they were applied.

    Raises:
        _Unsupported: a coding we do not decode, or too many of them.
    """
    codings = []
    for item in value.decode("latin-1").split(","):
        token = item.strip(" \t").lower()
        if not token or token == "identity":
            continue
        token = _ALIASES.get(token, token)
        if token not in DECODERS:
            raise _Unsupported(f"unsupported Content-Encoding {token[:40]!r}")
        codings.append(token)
    if len(codings) > MAX_CODINGS:
        raise _Unsupported(f"more than {MAX_CODINGS} stacked content codings")
    return codings


async def _send_answer(
    send: Send, status: int, detail: str, headers: Headers | None = None
) -> None:
    """Send a whole plain-text error response."""
    content = detail.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(content)),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content, "more_body": False})


class _DecodedBody:
    """The app's ``receive`` and ``send`` for one request with a coded body.

    States: reading (``_ended`` and ``_failed`` false), ended (the last body message, or a
    disconnect, was delivered: later calls go to the server's ``receive``), failed (a
    refused body: ``receive`` says ``http.disconnect``, ``send`` drops).
    """

    __slots__ = (
        "_ended",
        "_failed",
        "_on_thread",
        "_pipeline",
        "_receive",
        "_send",
        "_started",
        "_thread_min_size",
        "_wire_done",
        "answered",
        "broken",
    )

    def __init__(
        self, pipeline: DecodingPipeline, receive: Receive, send: Send, thread_min_size: int
    ) -> None:
        self._pipeline = pipeline
        self._receive = receive
        self._send = send
        self._thread_min_size = thread_min_size
        self._wire_done = False
        self._on_thread = False
        self._started = False
        self._ended = False
        self._failed = False
        self.answered = False  # we sent the 400/413 answer
        self.broken = ""  # why the body failed after the app's response started

    async def send(self, message: Message) -> None:
        if self._failed:
            return
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def receive(self) -> Message:
        if self._ended:
            return await self._receive()
        if self._failed:
            return _DISCONNECT
        try:
            return await self._next_message()
        except BodyRejected as error:
            self._failed = True
            if self._started:
                self.broken = str(error)
            else:
                self.answered = True
                await _send_answer(self._send, error.status, str(error))
            return _DISCONNECT

    async def _next_message(self) -> Message:
        pipeline = self._pipeline
        while True:
            if pipeline.needs_input:
                if self._wire_done:
                    return self._last_message(b"")
                message = await self._receive()
                if message["type"] != "http.request":
                    self._ended = True  # http.disconnect: the client is gone
                    return message
                data = message.get("body", b"")
                self._wire_done = not message.get("more_body", False)
                if data:
                    pipeline.feed(data)
                    # Decoding a large chunk inline would block the event loop.
                    self._on_thread = len(data) >= self._thread_min_size
                continue
            if self._on_thread:
                out = await offload(_run_on_thread, pipeline)
            else:
                # A bounded batch between two yields: a bomb's thousand calls must not hold
                # the event loop while other requests wait.
                await checkpoint()
                out = pipeline.run(STEP_OUTPUT, _INLINE_STEPS)
            if out:
                if self._wire_done and pipeline.needs_input:
                    return self._last_message(out)
                return {"type": "http.request", "body": out, "more_body": True}

    def _last_message(self, data: bytes) -> Message:
        self._pipeline.check_complete()
        self._ended = True
        return {"type": "http.request", "body": data, "more_body": False}
