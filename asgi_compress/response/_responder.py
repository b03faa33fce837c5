"""The per-response state machine behind CompressMiddleware.

Theory of operation
-------------------
Judgement lives in ``_decide.py`` (pure, table-tested); this module carries the decisions
out. Every transition of a response is here, in :class:`Responder`, and nowhere else::

    START ──start──> PASSING     decided from the head: pass (reason kept for the report)
      │    ──start──> STREAMING   an event stream: encoded head at once, every event flushed
      │    ──start──> HEAD_ONLY   a HEAD whose GET would be encoded: encoded head, no body
      │    ──start──> HELD        head held until the body decides
      │
    HELD ──final body, or all declared bytes──> DONE / FINISHING   one-shot (Content-Length)
         ──HOLD_LIMIT bytes held, or flush_delay passed──> STREAMING   a coalesced stream
                                  (never a declared body of at most the cache's max_size)
         ──pathsend─────────> DONE        the file opened first, then its fresh precompressed
                                          sibling sent, or the file read and encoded
                                          (whole, as a one-shot, when the cache keeps it)
         ──any other type───> PASSING     the held head and bytes go out unchanged first
    any state about to encode ──precondition answered──> DROPPING   our complete 304/412 is
                                                         sent; the app's messages are dropped

FINISHING waits for the empty final message of a body that was already whole (Quart sends
every response that way). DONE accepts only what may follow a body (trailers, unknown
types). A message that cannot happen in a state raises ``RuntimeError`` naming both.

Concurrency: a held or coalesced response is flushed by its :class:`PauseTimer` at most
``flush_delay`` after its oldest unflushed byte arrived, whether the app paused or not. The
app's ``send`` and that flush never call the server at once: the flush runs
only while no ``send`` is in progress, and a ``send`` that arrives during a flush waits for it.
An app that overlaps its own ``send`` calls breaks the ASGI contract, and is told so.

The ASGI path send extension: when the server does not offer it, the middleware offers it to
the app (``own_pathsend``) so that ``StaticFiles`` names its files, and a path send is then
carried out here in every state: the file (or its sibling) is read and sent as body messages,
so no ``http.response.pathsend`` reaches a server that did not offer it.

When the client has gone (``http.disconnect`` received by the app or by our watch over a file),
nothing more is encoded: the app's remaining body messages are dropped.

Dictionary transport (RFC 9842): when the middleware gives a :class:`DictionaryLayer` and the
start decides to encode (HELD, STREAMING or HEAD_ONLY), the layer may choose a dictionary the
client holds; the request's codings then become ``dcz``. A stream is sent as dcz; a whole body
is encoded both ways and the smaller goes out (issue 12: dcz only when it beats the ordinary
coding), its preconditions judged on that representation. A HEAD is then held like its GET
(issue 16), takes the same transitions, and sends only the head it reaches: its own body, if
the app sent one, is weighed as GET's; without it, ``decide_head_body`` says which head.
"""

from __future__ import annotations

import enum
import functools
import logging
from io import BufferedReader
from typing import TYPE_CHECKING

import anyio

from ..cache import cacheable
from ..codecs._offload import offload
from ..dictionaries.transport import DCZ
from ..http._headers import (
    ResponseHead,
    with_vary,
)
from ..report import PassReason
from . import _decide
from ._codings import Codings
from ._decide import NOTHING_ACCEPTED as _NOTHING_ACCEPTED
from ._decide import Action, RequestView
from ._output import ResponseOutput
from ._pause import PauseTimer
from ._precompressed import open_sibling, sibling_codings
from ._stream import EncodedStream, send_file_chunks, send_file_unencoded

if TYPE_CHECKING:
    from .._types import Message, Receive, Scope, Send
    from ..dictionaries._layer import DictionaryLayer
    from ..policy import ResponsePolicy
    from ..settings import Settings

__all__ = ["Responder"]

logger = logging.getLogger("asgi_compress")

HOLD_LIMIT = 256 * 1024
"""Body bytes a held response may collect before it becomes a stream: a body that ends
within it is answered whole, with a Content-Length and the best ratio."""

_BODY = "http.response.body"
_PATHSEND = "http.response.pathsend"


def _open_binary(path: str) -> BufferedReader:
    return open(path, "rb")


class _State(enum.Enum):
    START = "START"
    HELD = "HELD"
    STREAMING = "STREAMING"
    HEAD_ONLY = "HEAD_ONLY"
    PASSING = "PASSING"
    FINISHING = "FINISHING"
    DROPPING = "DROPPING"
    DONE = "DONE"


_START, _HELD, _STREAMING, _HEAD_ONLY, _PASSING, _FINISHING, _DROPPING, _DONE = _State


class Responder(ResponseOutput):
    """One response's way through the state machine described at the top of this module.

    Args:
        send: the server's send.
        receive: the server's receive (watched for ``http.disconnect``).
        request: what the response's fate depends on in its request.
        settings: the middleware's settings (a policy's replace them at the start).
        policy: the request's policy, open to the app until its response starts; ``None``
            for a request that accepts none of our codings.
        scope: the request's scope (its path names the response in reports).
        dictionaries: the request's dictionary transport (RFC 9842), when configured.
        own_pathsend: the middleware offered the app the path send extension, which the
            server lacks: a path send is carried out here.
    """

    __slots__ = (
        "_buffer",
        "_collecting",
        "_dictionaries",
        "_flushing",
        "_gone",
        "_held",
        "_hold_limit",
        "_observed",
        "_own_pathsend",
        "_policy",
        "_receive",
        "_sending",
        "_state",
        "_timer",
    )

    def __init__(
        self,
        send: Send,
        receive: Receive,
        request: RequestView,
        settings: Settings,
        policy: ResponsePolicy | None,
        scope: Scope,
        *,
        dictionaries: DictionaryLayer | None = None,
        own_pathsend: bool = False,
    ) -> None:
        self._send = send
        self._receive = receive
        self._request = request
        self._settings = settings
        self._policy = policy
        self._scope = scope
        self._state = _START
        self._sending = False
        self._gone = False
        self._flushing: anyio.Event | None = None
        self._timer: PauseTimer | None = None
        self._stream: EncodedStream | None = None
        self._codings: Codings | None = None
        self._reason: PassReason | None = None
        self._coding: str | None = None
        self._dictionaries = dictionaries
        self._own_pathsend = own_pathsend

    # -- the two ASGI callables the app is given --------------------------------------------

    async def receive(self) -> Message:
        """The server's receive, noting when the client has gone."""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._gone = True
        return message

    async def send(self, message: Message) -> None:
        if (
            self._state is _PASSING
            and message["type"] != "http.response.start"
            and (message["type"] != _PATHSEND or not self._own_pathsend)
        ):
            # Transparent from here on: no state is kept between messages, so nothing of ours
            # can interleave (a pause flush never runs once passing).
            if self._observed and message["type"] == _BODY:
                self._bytes_in += len(message.get("body", b""))
            await self._send(message)
            return
        if self._sending:
            raise RuntimeError(
                f"{message['type']!r} sent while the previous message is still being sent; "
                "ASGI send() calls must not overlap"
            )
        self._sending = True
        try:
            if self._flushing is not None:
                await self._flushing.wait()
            kind = message["type"]
            state = self._state
            if kind == _BODY:
                await self._body(message)
            elif kind == "http.response.start":
                if state is not _START:
                    raise self._unexpected(kind)
                await self._start_response(message)
            elif kind == _PATHSEND:
                await self._pathsend(message)
            elif state is _DROPPING:
                pass  # our 304/412 announced no trailers and ended the response
            else:
                # Trailers, early hints, debug and unknown messages go on in the order sent. A
                # held head must go first: as a stream when body bytes showed it is one (they
                # are flushed first), else unchanged, since nothing decided its coding yet.
                if state is _HELD:
                    if self._buffer:
                        await self._send_held_as_stream()
                        if self._stream is not None:
                            await self._stream.flush()
                    else:
                        await self._send_held(PassReason.STARTED_OTHERWISE)
                await self._send(message)
        finally:
            self._sending = False

    async def _body(self, message: Message) -> None:
        state = self._state
        if state is _STREAMING:
            await self._stream_body(message)
        elif state is _HELD:
            await self._held_body(message)
        elif state is _HEAD_ONLY or state is _FINISHING:
            await self._send_bodiless(message)
        elif state is _PASSING:  # only from _feed_file: the app's own pass the fast path
            await self._send(message)
        elif state is not _DROPPING:
            raise self._unexpected(message["type"])

    def close(self) -> None:
        """The app has returned or failed: stop the timer, report the response, and let its
        encoder's memory go now (a failure's traceback may keep this responder alive)."""
        if self._timer is not None:
            self._timer.close()
        if self._state is not _START and self._observed:
            self._report()
        if self._stream is not None:
            self._stream.close()
            # The request's frames may outlive it, in a traceback or in the task step still
            # handling its CancelledError: they must not keep the encoder (its window) alive.
            self._stream = None

    def _unexpected(self, kind: str) -> RuntimeError:
        return RuntimeError(
            f"unexpected ASGI message {kind!r} in response state {self._state.name}"
        )

    # -- START -----------------------------------------------------------------------------

    async def _start_response(self, message: Message) -> None:
        policy = self._policy
        if policy is None and self._request is _NOTHING_ACCEPTED and not self._report_wanted():
            # The request accepts none of our codings: every path through decide_start ends in
            # a pass with Vary, and only a report would need its reason (the common case of
            # bots and health checks, so it skips reading the head).
            self._state = _PASSING
            self._observed = False
            await self._send({**message, "headers": with_vary(message.get("headers", ()))})
            return
        if policy is not None:
            policy.started = True
            settings = self._settings = policy.settings
            enabled = policy.enabled
            if not settings.streams:  # read here: an extension's live config may change it
                self._request = self._request._replace(stream_encoding=None)
        else:
            settings = self._settings
            enabled = True
        self._observed = self._report_wanted()
        self._start = message
        self._status = message["status"]
        self._bytes_in = self._bytes_out = 0
        self._cached = False
        head = self._head = ResponseHead(message.get("headers", ()))
        self._declared = head.content_length
        decision = _decide.decide_start(
            self._status, head, self._request, settings, enabled=enabled
        )
        action = decision.action
        if action is not Action.PASS:  # it may encode, or answer with its validators
            codings = self._codings = Codings(
                settings, policy, timed=self._observed, events=action is Action.STREAM
            )
            if self._dictionaries is not None and action is not Action.NOT_MODIFIED:
                request = self._request = codings.choose_dcz(self._dictionaries, self._request)
                if request.encoding == DCZ:  # the same judgement of the dcz request
                    decision = _decide.decide_start(
                        self._status, head, request, settings, enabled=enabled
                    )
                    action = decision.action
        if action is Action.PASS:
            self._reason = decision.reason
            self._state = _PASSING
            await self._send(self._start_with_vary())
        elif action is Action.HOLD:
            self._state = _HELD
            self._buffer: list[bytes] = []
            self._held = 0
            self._hold_limit = HOLD_LIMIT
            cache = policy.cache if policy is not None else None
            declared = self._declared
            self._collecting = (
                cache is not None and declared is not None and declared <= cache.max_size
            )
            if self._collecting:
                # A body of known length that the cache would keep is collected whole.
                self._hold_limit = max(HOLD_LIMIT, declared or 0)
            if self._declared is None and settings.flush_delay:
                self._touch_timer()  # headers on time: a pause before the first body sends them
        elif action is Action.NOT_MODIFIED:
            self._state = _PASSING
            self._reason = PassReason.STATUS
            await self._send_not_modified(message)
        else:
            coding = decision.coding
            assert coding is not None
            stream = action is Action.STREAM
            if await self._send_precondition_answer(coding, stream=stream):
                self._state = _DROPPING
                return
            self._coding = coding
            if stream:
                self._state = _STREAMING
                await self._send_stream_start(coding, flush_each=True)
            else:
                self._state = _HEAD_ONLY
                await self._send_encoded_start(coding, content_length=None)

    # -- HELD ------------------------------------------------------------------------------

    async def _held_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self._gone:
            self._drop(more)
            return
        self._bytes_in += len(body)
        if not more or self._held + len(body) == self._declared:
            # The whole body: from this message alone, or with what was held before it.
            streamed = bool(self._buffer)
            if streamed:
                body = b"".join((*self._buffer, body))
                self._buffer = []
            if self._request.is_head:
                await self._send_head_of_body(body, more=more, streamed=streamed)
            else:
                await self._send_whole(body, more=more, streamed=streamed)
            return
        if not body:
            return  # an empty message decides nothing and writes nothing
        self._buffer.append(body)
        self._held += len(body)
        # Coalescing waits for more only when a stream coding would follow; per-message
        # flushing (flush_delay=0) starts the stream at once, as does a full hold.
        if (
            not self._settings.flush_delay
            or self._held >= self._hold_limit
            or self._request.stream_encoding is None
        ):
            await self._send_held_as_stream()
        elif not self._collecting:
            # A body the cache would keep waits for its last byte however slowly it comes
            # (a FileResponse's chunks are disk reads on a thread): streamed, it is never kept.
            self._touch_timer()

    async def _send_head_of_body(self, body: bytes, *, more: bool, streamed: bool) -> None:
        """Answer a held HEAD whose body ended: the head GET's would have, and no body."""
        head, codings = self._head, self._codings
        assert head is not None and codings is not None
        decision = _decide.decide_head_body(
            len(body), head, self._request, self._settings, known=codings.recalled_outcome(head)
        )
        if decision.action is Action.ONE_SHOT:
            await self._send_whole(body, more=more, streamed=streamed)
            return
        if decision.action is Action.PASS:
            self._reason = decision.reason
            self._state = _PASSING
            await self._send_unencoded(b"", more=more, streamed=streamed)
            return
        coding = decision.coding
        assert coding is not None
        if await self._send_precondition_answer(coding, stream=streamed):
            self._state = _DROPPING
            return
        self._coding = coding
        self._state = _HEAD_ONLY
        await self._send_encoded_start(coding, content_length=None)
        await self._send_bodiless({"type": _BODY, "more_body": more})

    async def _send_whole(self, body: bytes, *, more: bool, streamed: bool) -> None:
        """Answer a held response whose whole body is known: encoded with its length, or as
        it came (a HEAD's head only). ``more``: the app's empty final message is still to
        come. ``streamed``: the app sent it in several messages, which counts as a stream for
        conditionals."""
        assert self._head is not None
        decision = _decide.decide_whole(len(body), self._head, self._request, self._settings)
        if decision.action is Action.PASS:
            self._reason = decision.reason
            self._state = _PASSING
            await self._send_unencoded(body, more=more, streamed=streamed)
            return
        coding = decision.coding
        codings = self._codings
        assert coding is not None and codings is not None
        # A dcz answer's preconditions wait for the choice below: they are judged on the
        # representation that goes out.
        if coding != DCZ and await self._send_precondition_answer(coding, stream=streamed):
            self._state = _DROPPING  # the app's remaining messages (trailers too) are dropped
            return
        # One message, or a declared length: a stream of unknown length is not cached, even
        # when it turned out short enough to be answered whole.
        keep = (not streamed or self._declared is not None) and cacheable(
            self._start.get("headers", ())
        )
        made = await codings.whole(coding, body, cacheable=keep)
        winner = made[0]
        if coding == DCZ and await self._send_precondition_answer(winner.coding, stream=streamed):
            self._state = _DROPPING
            return
        encoded = winner.encoded
        if coding == DCZ and not self._request.is_head:
            codings.remember_outcome(self._head, None if encoded is None else winner.coding)
        self._cached = winner.found is not None and winner.found.hit
        head_only = self._request.is_head
        if encoded is None:
            self._reason = PassReason.NOT_SMALLER
            self._state = _PASSING
            await self._send_unencoded(b"" if head_only else body, more=more, streamed=streamed)
        else:
            self._coding = coding = winner.coding
            self._state = _FINISHING if more else _DONE
            # With trailers the body goes out chunked; a Content-Length would contradict it.
            length = None if self._start.get("trailers") else len(encoded)
            self._bytes_out = len(encoded)
            await self._send_encoded_start(coding, content_length=length)
            sent = b"" if head_only else encoded
            await self._send({"type": _BODY, "body": sent, "more_body": more})
        await codings.store(made)

    async def _send_held_as_stream(self) -> None:
        """The held response is a stream: its head goes out, then what was held, encoded."""
        decision = _decide.decide_stream(self._request)
        if decision.action is Action.PASS:
            await self._send_held(decision.reason)
            return
        coding = decision.coding
        assert coding is not None
        if await self._send_precondition_answer(coding, stream=True):
            self._state = _DROPPING
            return
        self._coding = coding
        if self._request.is_head:  # a HEAD held like its GET: the stream's head, no body
            self._state = _HEAD_ONLY
            self._buffer = []
            await self._send_encoded_start(coding, content_length=None)
            return
        self._state = _STREAMING
        stream = await self._send_stream_start(coding, flush_each=not self._settings.flush_delay)
        held, self._buffer = b"".join(self._buffer), []
        if held:
            await stream.write(held)

    async def _on_pause(self) -> None:
        """``flush_delay`` has passed since the oldest unflushed byte: make what the app sent
        decodable (and a held head go out). Runs in the pause timer's task, never during a
        send."""
        if self._sending:
            return  # that send is not over; it re-arms the timer if it leaves bytes waiting
        self._flushing = flushing = anyio.Event()
        try:
            if self._state is _HELD and not self._gone:
                await self._send_held_as_stream()
            if self._state is _STREAMING and not self._gone:
                assert self._stream is not None
                await self._stream.flush()
        except OSError:
            self._gone = True  # the server could not write: the client has gone
        finally:
            self._flushing = None
            flushing.set()

    # -- STREAMING -------------------------------------------------------------------------

    async def _stream_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self._gone:
            self._drop(more)
            return
        stream = self._stream
        assert stream is not None
        self._bytes_in += len(body)
        declared = self._declared
        if declared is not None and self._bytes_in > declared:
            raise RuntimeError("response body is longer than its declared Content-Length")
        if more:
            if body:
                await stream.write(body)
                if stream.pending:
                    self._touch_timer()
            return
        if declared is not None and self._bytes_in < declared:
            # Ending the encoded stream cleanly would hide the app's error from the server
            # and the client (RFC 9112 section 6.3): it must see an incomplete message.
            raise RuntimeError(
                f"response body ended after {self._bytes_in} of its declared {declared} bytes"
            )
        self._state = _DONE
        await stream.end(body)

    # -- pathsend (ASGI path send extension) ---------------------------------------------

    async def _pathsend(self, message: Message) -> None:
        state = self._state
        if state is _PASSING:
            if self._own_pathsend:
                file = await offload(_open_binary, message["path"])
                with file:
                    await self._pass_file(message, file)
            else:
                await self._send(message)
        elif state is _HEAD_ONLY:
            self._state = _DONE
            await self._send({"type": _BODY, "body": b"", "more_body": False})
        elif state is _DROPPING:
            pass
        elif state is _HELD or state is _STREAMING:
            await self._send_file(message)
        else:
            raise self._unexpected(message["type"])

    async def _send_file(self, message: Message) -> None:
        """Encode the file the app asked the server to send. It is opened before anything
        is sent, so a missing or unreadable file fails the app, not a half-sent response."""
        file = await offload(_open_binary, message["path"])
        with file:
            if self._state is _HELD:
                if self._buffer:  # body bytes before a path send: not a file response
                    await self._send_held(PassReason.STARTED_OTHERWISE)
                    await self._pass_file(message, file)
                    return
                if self._settings.precompressed and await self._send_sibling(message["path"]):
                    return
                if self._own_pathsend:
                    # As the app would have sent it without the extension: body messages, so
                    # a whole file is answered (and cached) as a whole body.
                    await self._feed_file(file)
                    return
                if self._collecting and not self._gone:
                    # A file the cache would keep is read whole, as its body messages would
                    # be: streamed, it would never be kept (granian sends StaticFiles so).
                    data = await offload(file.read, self._hold_limit + 1)
                    self._bytes_in += len(data)
                    await self._send_whole(data, more=False, streamed=False)
                    return
                await self._send_held_as_stream()
                if self._state is not _STREAMING:  # passed, answered, or a HEAD's head sent
                    if self._state is _PASSING:
                        await self._pass_file(message, file)
                    elif self._state is _HEAD_ONLY:
                        await self._send_bodiless({"type": _BODY})
                    return
            stream = self._stream
            assert stream is not None
            self._state = _DONE
            if not self._gone and not await stream.send_file(file, self.receive):
                self._gone = True

    async def _pass_file(self, message: Message, file: BufferedReader) -> None:
        """The app's path send, unencoded: to a server that offers the extension, else read
        and sent here."""
        if not self._own_pathsend:
            await self._send(message)
        elif not self._gone and not await send_file_unencoded(file, self._send, self.receive):
            self._gone = True

    async def _feed_file(self, file: BufferedReader) -> None:
        """Send a held response's file through the state machine as body messages."""

        async def send_chunk(chunk: bytes) -> None:
            await self._body({"type": _BODY, "body": chunk, "more_body": True})

        def read_next(size: int) -> bytes | None:
            return file.read(size) or None

        if not await send_file_chunks(read_next, offload, send_chunk, self.receive):
            self._gone = True
            return
        await self._body({"type": _BODY, "body": b"", "more_body": False})

    async def _send_sibling(self, path: str) -> bool:
        """Answer a held path send with the file's fresh precompressed sibling, exactly as an
        encoded whole body would be answered (preconditions first, then the encoded head with
        the sibling's length). Returns ``False`` when there is none to send."""
        codings = sibling_codings(self._request.encoding, self._request.stream_encoding)
        sibling = await offload(functools.partial(open_sibling, path), codings) if codings else None
        if sibling is None:
            return False
        with sibling.file:
            coding = sibling.coding
            if await self._send_precondition_answer(coding, stream=False):
                self._state = _DROPPING
                return True
            self._coding = coding
            self._state = _DONE
            self._bytes_out = sibling.size
            length = None if self._start.get("trailers") else sibling.size
            await self._send_encoded_start(coding, content_length=length)
            if not self._own_pathsend:
                await self._send({"type": _PATHSEND, "path": sibling.path})
            elif not self._gone and not await send_file_unencoded(
                sibling.file, self._send, self.receive
            ):
                self._gone = True
        return True

    # -- HEAD_ONLY, FINISHING and DROPPING -------------------------------------------------

    async def _send_bodiless(self, message: Message) -> None:
        """Body messages whose bytes are not sent: a HEAD's, after a whole body."""
        if self._state is _FINISHING and message.get("body"):
            raise RuntimeError("response body is longer than its declared Content-Length")
        if not message.get("more_body", False):
            self._state = _DONE
            await self._send({"type": _BODY, "body": b"", "more_body": False})

    def _drop(self, more: bool) -> None:
        """The client has gone: nothing more is encoded or sent for it, so its encoder's
        memory can go while the app runs on."""
        if self._stream is not None:
            self._stream.close()
        if not more:
            self._state = _DONE
            if self._reason is None and self._stream is None:
                self._reason = PassReason.CLIENT_GONE

    # -- helpers -------------------------------------------------------------------------

    def _report_wanted(self) -> bool:
        settings = self._policy.settings if self._policy is not None else self._settings
        return settings.on_response is not None or logger.isEnabledFor(logging.DEBUG)

    async def _send_held(self, reason: PassReason | None) -> None:
        """Pass the held response: its original head and the bytes held so far."""
        self._reason = reason
        self._state = _PASSING
        held, self._buffer = b"".join(self._buffer), []
        await self._send_unchanged_head(held)

    def _touch_timer(self) -> None:
        timer = self._timer
        if timer is None:
            timer = self._timer = PauseTimer(self._settings.flush_delay, self._on_pause)
        timer.touch()
