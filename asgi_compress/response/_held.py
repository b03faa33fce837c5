"""A response's body messages: held, answered whole, streamed, or sent without their bytes.

Theory of operation
-------------------
:class:`HeldResponse` carries out, for each body message, what ``_decide.py`` judged, in the
state ``_states.py`` names:

- HELD: the head waits while the body collects (up to :class:`~._decide.Hold`'s limit).
  A body that ends within it is answered whole (:meth:`HeldResponse._send_whole`: encoded
  with its length, from the response cache if it keeps it, or unencoded); one that does not
  becomes a stream (:meth:`HeldResponse._send_held_as_stream`). A HEAD held like its GET
  answers with the head its GET reaches (:meth:`HeldResponse._send_head_of_body`).
- STREAMING: each message is encoded; a coalesced stream is flushed by its
  :class:`~._pause.PauseTimer` at most ``flush_delay`` after its oldest unflushed byte.
- HEAD_ONLY and FINISHING: body messages whose bytes are not sent.
- DROPPING: our 304/412 went out; the app's messages are dropped.

Two moves recur, each in one helper: our 304/412 answering first, then DROPPING
(:meth:`HeldResponse._answer_precondition`), and a pass with its reason, then the app's head
and body unencoded (:meth:`HeldResponse._pass_unencoded`).

Concurrency: the pause flush (:meth:`HeldResponse._on_pause`) runs only while no ``send`` is
in progress, and a ``send`` that arrives during a flush waits for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ..report import PassReason
from . import _decide
from ._decide import Action, Coalesce, Hold
from ._output import ResponseOutput
from ._pause import PauseTimer
from ._states import State

if TYPE_CHECKING:
    from .._types import Message, Receive

__all__ = ["HeldResponse"]

_BODY = "http.response.body"
_START, _HELD, _STREAMING, _HEAD_ONLY, _PASSING, _FINISHING, _DROPPING, _DONE = State


class HeldResponse(ResponseOutput):
    """The body side of one response (see the module docstring)."""

    __slots__ = (
        "_buffer",
        "_flushing",
        "_gone",
        "_held",
        "_hold",
        "_receive",
        "_sending",
        "_timer",
    )

    _receive: Receive
    _buffer: list[bytes]
    _held: int
    _hold: Hold
    _sending: bool
    _gone: bool
    _flushing: anyio.Event | None
    _timer: PauseTimer | None

    async def receive(self) -> Message:
        """The server's receive, noting when the client has gone."""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._gone = True
        return message

    async def _body(self, message: Message) -> None:
        state = self._state
        if state is _STREAMING or state is _HELD:
            if self._gone:
                self._drop(message.get("more_body", False))
            elif state is _STREAMING:
                await self._stream_body(message)
            else:
                await self._held_body(message)
        elif state is _HEAD_ONLY or state is _FINISHING:
            await self._send_bodiless(message)
        elif state is _PASSING:  # only from a fed file: the app's own pass the fast path
            await self._send(message)
        elif state is not _DROPPING:
            raise self._unexpected(message["type"])

    # -- HELD ------------------------------------------------------------------------------

    async def _held_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
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
        plan = _decide.decide_coalescing(self._held, self._hold, self._request, self._settings)
        if plan is Coalesce.STREAM:
            await self._send_held_as_stream()
        elif plan is Coalesce.WAIT:
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
            await self._pass_unencoded(decision.reason, b"", more=more, streamed=streamed)
            return
        coding = decision.coding
        assert coding is not None
        if await self._answer_precondition(coding, stream=streamed):
            return
        self._coding = coding
        self._transition(_HEAD_ONLY)
        await self._send_encoded_start(coding, content_length=None)
        await self._send_bodiless({"type": _BODY, "more_body": more})

    async def _send_whole(self, body: bytes, *, more: bool, streamed: bool) -> None:
        """Answer a held response whose whole body is known: encoded with its length, or as
        it came (a HEAD's head only). ``more``: the app's empty final message is still to
        come. ``streamed``: the app sent it in several messages, which counts as a stream for
        conditionals."""
        head, codings, request = self._head, self._codings, self._request
        assert head is not None and codings is not None
        decision = _decide.decide_whole(len(body), head, request, self._settings)
        coding = decision.coding
        if coding is None:
            await self._pass_unencoded(decision.reason, body, more=more, streamed=streamed)
            return
        after = _decide.judged_after_encoding(coding)
        if not after and await self._answer_precondition(coding, stream=streamed):
            return  # the app's remaining messages (trailers too) are dropped
        headers = self._start.get("headers", ())
        keep = _decide.keeps_whole(streamed=streamed, declared=self._declared, headers=headers)
        made = await codings.whole(coding, body, cacheable=keep)
        winner = made[0]
        if after and await self._answer_precondition(winner.coding, stream=streamed):
            return
        encoded = winner.encoded
        if _decide.remembers_outcome(coding, request):
            codings.remember_outcome(head, None if encoded is None else winner.coding)
        self._cached = winner.found is not None and winner.found.hit
        sent = _decide.decide_encoded(winner.coding, encoded)
        if sent.action is Action.PASS or encoded is None:
            body = _decide.body_sent(body, request)
            await self._pass_unencoded(sent.reason, body, more=more, streamed=streamed)
        else:
            self._coding = coding = winner.coding
            self._transition(_FINISHING if more else _DONE)
            self._bytes_out = len(encoded)
            trailers = bool(self._start.get("trailers"))
            length = _decide.encoded_length(len(encoded), trailers=trailers)
            await self._send_encoded_start(coding, content_length=length)
            encoded = _decide.body_sent(encoded, request)
            await self._send({"type": _BODY, "body": encoded, "more_body": more})
        await codings.store(made)

    async def _send_held_as_stream(self) -> None:
        """The held response is a stream: its head goes out, then what was held, encoded."""
        decision = _decide.decide_stream(self._request)
        coding = decision.coding
        if coding is None:
            await self._send_held(decision.reason)
            return
        if await self._answer_precondition(coding, stream=True):
            return
        self._coding = coding
        if self._request.is_head:  # a HEAD held like its GET: the stream's head, no body
            self._transition(_HEAD_ONLY)
            self._buffer = []
            await self._send_encoded_start(coding, content_length=None)
            return
        self._transition(_STREAMING)
        stream = await self._send_stream_start(coding, flush_each=not self._settings.flush_delay)
        held, self._buffer = b"".join(self._buffer), []
        if held:
            await stream.write(held)

    async def _send_held(self, reason: PassReason | None) -> None:
        """Pass the held response: its original head and the bytes held so far."""
        self._reason = reason
        self._transition(_PASSING)
        held, self._buffer = b"".join(self._buffer), []
        await self._send_unchanged_head(held)

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

    def _touch_timer(self) -> None:
        timer = self._timer
        if timer is None:
            timer = self._timer = PauseTimer(self._settings.flush_delay, self._on_pause)
        timer.touch()

    # -- STREAMING -------------------------------------------------------------------------

    async def _stream_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
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
        self._transition(_DONE)
        await stream.end(body)

    # -- HEAD_ONLY, FINISHING and DROPPING -------------------------------------------------

    async def _send_bodiless(self, message: Message) -> None:
        """Body messages whose bytes are not sent: a HEAD's, after a whole body."""
        if self._state is _FINISHING and message.get("body"):
            raise RuntimeError("response body is longer than its declared Content-Length")
        if not message.get("more_body", False):
            self._transition(_DONE)
            await self._send({"type": _BODY, "body": b"", "more_body": False})

    def _drop(self, more: bool) -> None:
        """The client has gone: nothing more is encoded or sent for it, so its encoder's
        memory can go while the app runs on."""
        if self._stream is not None:
            self._stream.close()
        if not more:
            self._transition(_DONE)
            if self._reason is None and self._stream is None:
                self._reason = PassReason.CLIENT_GONE

    # -- the two moves every path shares ---------------------------------------------------

    async def _answer_precondition(self, coding: str, *, stream: bool) -> bool:
        """Send our 304/412 instead of the response encoded with ``coding`` when the
        request's preconditions answer first; the response then drops the app's messages.
        Returns whether it answered."""
        if not await self._send_precondition_answer(coding, stream=stream):
            return False
        self._transition(_DROPPING)
        return True

    async def _pass_unencoded(
        self, reason: PassReason | None, body: bytes, *, more: bool, streamed: bool
    ) -> None:
        """Pass the response for ``reason``: the app's head and its whole ``body`` unencoded."""
        self._reason = reason
        self._transition(_PASSING)
        await self._send_unencoded(body, more=more, streamed=streamed)
