"""The per-response state machine behind CompressMiddleware.

Theory of operation
-------------------
Rule 1: every transition of a response lives in ``Responder``, and nowhere else.

The responder is a state machine over the messages the app sends::

    START ──start──> PASSING    pass-through decided from the head alone: sent at once
      │    ──start──> STREAMING  text/event-stream: sent at once, flushed per event
      │    ──start──> HEAD       a HEAD to encode: encoded head sent at once, bodies emptied
      │    ──start──> HELD       head held back until the first data decides
      │
    HELD ──body (whole body)──> DONE or FINISHING   one-shot: encoded with a new Content-Length
         ──body (partial)────> STREAMING            encoded and flushed per message
         ──pathsend─────────> DONE                  the file read and encoded in chunks
         ──anything else────> PASSING               the held head goes out unchanged first
    any state about to encode ──precondition fails──> DRAIN  a complete bodiless 304/412 is
                                                            sent; the app's body is dropped

FINISHING waits for the empty final message of a body that was already whole (Quart sends
every response that way). DONE accepts only what may follow a body (trailers, unknown
types). A message that cannot happen in a state raises ``RuntimeError`` naming both.

Why hold the head: whether and how to encode depends on the body (one message or many, its
length when no Content-Length is declared, whether encoding made it smaller), and headers
cannot change once sent. The head is held only while that is unknown: a response that will
pass through, and an event stream, have theirs sent at once.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ._dictionary_plan import AVAILABLE_DICTIONARY_VARY
from ._headers import (
    VARY_HEADER,
    ResponseHead,
    compressed_headers,
    not_modified_headers,
    precondition_status,
    resuffix_etag,
    suffix_etag,
    with_vary,
)
from ._offload import offload
from ._padding import padding
from .cache import cache_get, cache_set
from .encoders import Encoder

if TYPE_CHECKING:
    from ._dictionary_plan import DictionaryPlan
    from ._types import Message, Scope, Send
    from .policy import ResponsePolicy

__all__ = ["Responder"]

_FILE_CHUNK = 256 * 1024

T = TypeVar("T")
R = TypeVar("R")


class _State(enum.Enum):
    START = "START"
    HELD = "HELD"
    STREAMING = "STREAMING"
    HEAD = "HEAD"
    PASSING = "PASSING"
    FINISHING = "FINISHING"
    DRAIN = "DRAIN"
    DONE = "DONE"


class Responder:
    """One response's way through the state machine described at the top of this module."""

    __slots__ = (
        "_busy",
        "_dictionary_plan",
        "_encoder",
        "_encoding",
        "_head",
        "_is_head",
        "_policy",
        "_send",
        "_settings",
        "_start",
        "_state",
        "_stream_encoding",
        "_thread_min_size",
        "_stripped",
        "_validators",
    )

    def __init__(
        self,
        send: Send,
        policy: ResponsePolicy,
        scope: Scope,
        encoding: str | None,
        stream_encoding: str | None,
        *,
        validators: dict[bytes, bytes],
        stripped: dict[bytes, bytes],
        dictionary_plan: DictionaryPlan | None = None,
    ) -> None:
        self._send = send
        self._dictionary_plan = dictionary_plan  # PROVISIONAL (dcz wiring)
        self._policy = policy  # read at http.response.start: the app may change it until then
        self._encoding = encoding
        self._stream_encoding = stream_encoding
        self._is_head = scope.get("method") == "HEAD"
        self._state = _State.START
        self._start: Message = {}
        self._head: ResponseHead | None = None
        self._encoder: Encoder | None = None
        self._busy = False
        # The client's validators as sent (suffixes included), and the suffixes we stripped
        # from the app's view of them: b'"abc"' -> b'"abc:br"'.
        self._validators = validators
        self._stripped = stripped

    async def send(self, message: Message) -> None:
        if self._busy:
            raise RuntimeError(
                f"{message['type']!r} sent while the previous message is still being "
                "compressed; ASGI send() calls must not overlap"
            )
        kind = message["type"]
        state = self._state
        if kind == "http.response.body":
            if state is _State.STREAMING:
                # The hot path of a stream: a small chunk, compressed and flushed inline.
                body: bytes = message.get("body", b"")
                if message.get("more_body", False) and len(body) < self._thread_min_size:
                    if body:  # An empty continuation would only produce an empty write.
                        encoder = self._encoder
                        assert encoder is not None
                        chunk = encoder.flush(body)
                        await self._send(
                            {"type": "http.response.body", "body": chunk, "more_body": True}
                        )
                    return
                await self._stream_rest(message, body)
            elif state is _State.PASSING:
                await self._send(message)
            elif state is _State.HELD:
                await self._first_body(message)
            elif state is _State.HEAD or state is _State.FINISHING or state is _State.DRAIN:
                await self._trailing_body(message)
            else:
                raise self._unexpected(kind)
        elif kind == "http.response.start":
            if state is not _State.START:
                raise self._unexpected(kind)
            await self._on_start(message)
        elif kind == "http.response.pathsend":
            if state is _State.HELD:
                await self._pathsend(message)
            elif state is _State.PASSING:
                await self._send(message)
            elif state is _State.HEAD:
                self._state = _State.DONE
                await self._send({"type": "http.response.body", "body": b""})
            elif state is _State.DRAIN:
                self._state = _State.DONE
            else:
                raise self._unexpected(kind)
        elif state is _State.DRAIN and kind == "http.response.trailers":
            return  # our 304/412 head announced no trailers
        else:
            # Trailers, early hints, debug and unknown messages go on in the order sent. A held
            # head must go first, and then it can no longer be changed: pass through.
            if state is _State.HELD:
                await self._pass_held()
            await self._send(message)

    def _unexpected(self, kind: str) -> RuntimeError:
        return RuntimeError(
            f"unexpected ASGI message {kind!r} in response state {self._state.name}"
        )

    # -- START -----------------------------------------------------------------------------

    async def _on_start(self, message: Message) -> None:
        policy = self._policy
        settings = self._settings = policy.settings
        self._thread_min_size = settings.thread_min_size
        if not settings.streams:
            self._stream_encoding = None
        self._start = message
        head = self._head = ResponseHead(message.get("headers", ()))
        status = message["status"]
        if status == 304 and self._stripped:
            self._state = _State.PASSING
            # The app answered our stripped validator; a 304 carries no representation
            # metadata (Quart's keeps Content-Type), and gets the tag the client holds back.
            headers = resuffix_etag(
                not_modified_headers(message.get("headers", ())), self._stripped
            )
            await self._send({**message, "headers": with_vary(headers)})
            return
        length = head.content_length
        if (
            not policy.enabled
            or not (200 <= status < 300)
            or status in (204, 205, 206)
            or head.encoded
            or head.no_transform
            or head.partial
            or (length is not None and (length < settings.min_size or length == 0))
            or not settings.is_compressible_type(head.media_type)
        ):
            await self._pass_held()
            return
        plan = self._dictionary_plan
        if plan is not None and plan.choose() is not None:  # PROVISIONAL (dcz wiring)
            self._encoding = "dcz"
            if self._stream_encoding is not None:
                self._stream_encoding = "dcz"
        if head.media_type == "text/event-stream" or self._is_head:
            # Decided from the head alone: an event stream must not wait for its first event,
            # and a HEAD has no body to judge. A HEAD gets GET's decision and headers, minus a
            # Content-Length, which only the encoded body would tell.
            is_stream = head.media_type == "text/event-stream" or length is None
            encoding = self._stream_encoding if is_stream else self._encoding
            if encoding is None:
                await self._pass_held()
                return
            if await self._refused_by_precondition(encoding, is_stream=is_stream):
                return
            if self._is_head:
                self._state = _State.HEAD
                await self._send_encoded_start(encoding, content_length=None)
                return
            self._state = _State.STREAMING
            self._encoder, prefix = self._open(encoding)
            await self._send_encoded_start(encoding, content_length=None)
            if prefix:
                await self._send({"type": "http.response.body", "body": prefix, "more_body": True})
            return
        self._state = _State.HELD

    # -- HELD ------------------------------------------------------------------------------

    async def _first_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if not body and more:
            return  # Empty messages before the first data decide nothing and write nothing.
        assert self._head is not None
        declared = self._head.content_length
        if not more or len(body) == declared:
            await self._one_shot(message, body, more, declared)
            return
        opened = await self._open_stream(message, more=True)
        if opened is None:
            return
        encoding, encoder, prefix = opened
        self._encoder = encoder
        if len(body) < self._thread_min_size:
            chunk = prefix + encoder.flush(body)
        else:
            chunk = prefix + await self._offload(encoder.flush, body)
        self._state = _State.STREAMING
        await self._send_encoded_start(encoding, content_length=None)
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def _one_shot(
        self, message: Message, body: bytes, more: bool, declared: int | None
    ) -> None:
        encoding = self._encoding
        settings = self._settings
        size = len(body)
        if (
            encoding is None
            or size == 0
            or size < settings.min_size
            or (declared is not None and declared != size)  # the app's error: let the server see it
        ):
            await self._pass_held()
            await self._send(message)
            return
        if await self._refused_by_precondition(encoding, is_stream=False, more=more):
            return
        encoded = await self._encode_whole(encoding, body)
        if encoded is None:
            # Encoding did not pay (already compressed or tiny): the original is the better answer.
            await self._pass_held()
            await self._send(message)
            return
        self._state = _State.FINISHING if more else _State.DONE
        # With trailers the body goes out chunked; a Content-Length would contradict it.
        length = None if self._start.get("trailers") else len(encoded)
        await self._send_encoded_start(encoding, content_length=length)
        await self._send({"type": "http.response.body", "body": encoded, "more_body": more})

    async def _encode_whole(self, encoding: str, body: bytes) -> bytes | None:
        """The encoded body, from the policy's cache when it has it; ``None`` if not smaller."""
        policy = self._policy
        cache, key = policy.cache, policy.cache_key
        if cache is not None and key is not None:
            token = encoding
            if encoding == "dcz":  # PROVISIONAL (dcz wiring): one entry per dictionary
                assert self._dictionary_plan is not None
                token = self._dictionary_plan.cache_token()
            key = f"{token};{key}"
            cached = await cache_get(cache, key)
            if cached is not None:
                return cached
        encoder, prefix = self._open(encoding)
        if len(body) < self._thread_min_size:
            encoded = prefix + encoder.finish(body)
        else:
            encoded = prefix + await self._offload(encoder.finish, body)
        if len(encoded) >= len(body):
            return None
        if cache is not None and key is not None:
            await cache_set(cache, key, encoded)
        return encoded

    async def _pathsend(self, message: Message) -> None:
        """Encode a file the app asked the server to send (ASGI path send extension)."""
        opened = await self._open_stream(message, more=False)
        if opened is None:
            return
        encoding, encoder, prefix = opened
        self._state = _State.STREAMING
        await self._send_encoded_start(encoding, content_length=None)
        if prefix:
            await self._send({"type": "http.response.body", "body": prefix, "more_body": True})
        # Reading and encoding both block, so each step runs on a worker thread. The file is
        # ours to chunk: no app boundaries to preserve, so no flush per read.
        with open(message["path"], "rb") as file:  # noqa: ASYNC230 - reads happen in offload()

            def encode_next(size: int) -> bytes | None:
                data = file.read(size)
                return encoder.compress(data) if data else None

            while (chunk := await self._offload(encode_next, _FILE_CHUNK)) is not None:
                if chunk:
                    await self._send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
        self._state = _State.DONE
        await self._send(
            {"type": "http.response.body", "body": encoder.finish(), "more_body": False}
        )

    # -- STREAMING -------------------------------------------------------------------------

    async def _stream_rest(self, message: Message, body: bytes) -> None:
        """What the hot path in :meth:`send` leaves: a large chunk, or the final message."""
        encoder = self._encoder
        assert encoder is not None
        if message.get("more_body", False):  # only large chunks get here
            chunk = await self._offload(encoder.flush, body)
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
            return
        self._state = _State.DONE
        if len(body) < self._thread_min_size:
            chunk = encoder.finish(body)
        else:
            chunk = await self._offload(encoder.finish, body)
        self._encoder = None
        await self._send({"type": "http.response.body", "body": chunk, "more_body": False})

    # -- HEAD, FINISHING and DRAIN ---------------------------------------------------------

    async def _trailing_body(self, message: Message) -> None:
        """Body messages whose bytes are not sent: a HEAD's, after a whole body, after a 304."""
        if self._state is _State.FINISHING and message.get("body"):
            raise RuntimeError("response body is longer than its declared Content-Length")
        if not message.get("more_body", False):
            drained = self._state is _State.DRAIN  # our 304/412 has already ended the response
            self._state = _State.DONE
            if not drained:
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- helpers ---------------------------------------------------------------------------

    async def _refused_by_precondition(
        self, encoding: str, *, is_stream: bool, more: bool = True
    ) -> bool:
        """Send a bodiless 304/412 instead of encoding, when the policy asks for conditional
        evaluation and the request's validators say so. Decided before any encoding work."""
        policy = self._policy
        if (
            not policy.evaluate_conditional
            or not self._validators
            or (is_stream and not policy.evaluate_conditional_streams)
        ):
            return False
        assert self._head is not None
        etag = self._head.etag
        if etag is not None:
            etag = suffix_etag(etag, encoding.encode("latin-1"))
        status = precondition_status(self._validators, etag, self._head.last_modified)
        if status is None:
            return False
        headers = not_modified_headers(self._start.get("headers", ()))
        headers = [(n, etag if n.lower() == b"etag" and etag else v) for n, v in headers]
        if status == 412:
            headers = [(n, v) for n, v in headers if n.lower() != b"etag"]
            headers.append((b"content-length", b"0"))
        if self._head.needs_vary:
            headers.append(VARY_HEADER)
        self._state = _State.DRAIN if more else _State.DONE
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        return True

    async def _open_stream(
        self, message: Message, *, more: bool
    ) -> tuple[str, Encoder, bytes] | None:
        """Begin encoding a held response as a stream: its coding, encoder and first bytes.

        ``None`` when it is not to be encoded (no streaming coding accepted: the held head and
        ``message`` have been passed on) or a precondition answered it (304/412 sent).
        ``more`` says whether the app will send more messages after ``message``.
        """
        encoding = self._stream_encoding
        if encoding is None:
            await self._pass_held()
            await self._send(message)
            return None
        if await self._refused_by_precondition(encoding, is_stream=True, more=more):
            return None
        encoder, prefix = self._open(encoding)
        return encoding, encoder, prefix

    def _open(self, encoding: str) -> tuple[Encoder, bytes]:
        """A fresh encoder, and the bytes to send before its first output: its BREACH padding
        when ``breach_padding`` is set (a random length, fresh for every response)."""
        if encoding == "dcz":  # PROVISIONAL (dcz wiring): the 40-byte header must come first
            assert self._dictionary_plan is not None
            return self._dictionary_plan.encoder(), b""
        encoder = self._settings.encoders[encoding]()
        limit = self._settings.breach_padding
        return encoder, padding(encoder, secrets.randbelow(limit + 1)) if limit else b""

    async def _pass_held(self) -> None:
        """Send the original head (with Vary merged) and pass everything after it."""
        self._state = _State.PASSING
        start = self._start
        assert self._head is not None
        if self._head.needs_vary:  # already known from the head: no second scan
            start = {**start, "headers": [*start.get("headers", ()), VARY_HEADER]}
        await self._send(start)

    async def _send_encoded_start(self, encoding: str, *, content_length: int | None) -> None:
        assert self._head is not None
        headers = compressed_headers(
            self._start.get("headers", ()),
            encoding,
            content_length=content_length,
            needs_vary=self._head.needs_vary,
        )
        if encoding == "dcz":  # PROVISIONAL (dcz wiring): RFC 9842 section 6.2
            headers.append(AVAILABLE_DICTIONARY_VARY)
        await self._send({**self._start, "headers": headers})

    async def _offload(self, func: Callable[[T], R], arg: T) -> R:
        """Run a compression step on a worker thread (callers keep small chunks inline:
        a hand-off costs more than compressing them)."""
        self._busy = True
        try:
            return await offload(func, arg)
        finally:
            self._busy = False
