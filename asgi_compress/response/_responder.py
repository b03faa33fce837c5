"""The per-response state machine behind CompressMiddleware: its entry points.

Theory of operation
-------------------
Judgement lives in ``_decide.py`` (pure, table-tested); the states and every move between
them in ``_states.py`` (a table, checked on each move). The responder only carries the
decisions out, in layers that each build on the one before::

    _states.StateMachine     the state and the one ``_transition()``
    _output.ResponseOutput   what is sent: our 304/412, encoded and unchanged heads, reports
    _held.HeldResponse       body messages: HELD, STREAMING, HEAD_ONLY, FINISHING, DROPPING
    _files.FileResponse      path sends: a file, its precompressed sibling
    Responder (here)         ``send`` and ``receive`` for the app, the START, ``close``

Every slot of every layer is created in :meth:`Responder.__init__`.

:meth:`Responder.send` dispatches each message by type and state. A PASSING response is the
app's own from there on: its messages go straight to the server, after a single check when
a report or the dictionary layer watches them. An ``http.response.start`` is decided here
(:func:`~._decide.decide_start`); a request that accepts none of our codings and wants no
report passes without its head being read (:func:`~._decide.passes_unread`). A message of
another type (trailers, early hints, unknown) meets a held head only after that head went out
(:func:`~._decide.decide_interrupted`). A message that cannot happen in a state raises
``RuntimeError`` naming both.

Concurrency: a held or coalesced response is flushed by its pause timer at most
``flush_delay`` after its oldest unflushed byte arrived, whether the app paused or not. The
app's ``send`` and that flush never call the server at once: the flush runs only while no
``send`` is in progress, and a ``send`` that arrives during a flush waits for it. An app that
overlaps its own ``send`` calls breaks the ASGI contract, and is told so.

When the client has gone (``http.disconnect`` received by the app or by our watch over a file),
nothing more is encoded: the app's remaining body messages are dropped.

Dictionary transport (RFC 9842): the request's :class:`DictionaryLayer`, when the middleware
gives one, is called by the responder: it adds its headers to the app's start before the start
is decided, and sees each later message after the responder handled it (to keep a dictionary's
identity body). When the start decides to encode, the layer may choose a dictionary the client
holds; the request's codings then become ``dcz``. A stream is sent as dcz; a whole body is
encoded both ways and the smaller goes out (dcz only when it beats the ordinary coding), its
preconditions judged on that representation. A HEAD is then held like its GET, takes the same
transitions, and sends only the head it reaches: its own body, if the app sent one, is weighed
as GET's; without it, ``decide_head_body`` says which head.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..http._headers import ResponseHead, with_vary
from ..report import PassReason
from . import _decide
from ._codings import Codings
from ._decide import Action, Decision, Hold, RequestView
from ._files import FileResponse
from ._states import State

if TYPE_CHECKING:
    from .._types import Message, Receive, Scope, Send
    from ..dictionaries._layer import DictionaryLayer
    from ..policy import ResponsePolicy
    from ..settings import Settings

__all__ = ["Responder"]

logger = logging.getLogger("asgi_compress")

_BODY = "http.response.body"
_START_TYPE = "http.response.start"
_PATHSEND = "http.response.pathsend"
_START, _HELD, _STREAMING, _HEAD_ONLY, _PASSING, _FINISHING, _DROPPING, _DONE = State
_NOT_STARTED: Message = {}  # the start message before one arrives; never written to
_NOT_HELD = Hold(_decide.HOLD_LIMIT, collecting=False, timer=False)


class Responder(FileResponse):
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

    __slots__ = ("_dictionaries", "_observed", "_policy", "_watching")

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
        self._state = _START
        # The request: its I/O, what its response is decided from, what it was offered.
        self._send, self._receive, self._scope = send, receive, scope
        self._request, self._settings, self._policy = request, settings, policy
        self._dictionaries, self._own_pathsend = dictionaries, own_pathsend
        # What the start tells (ResponseOutput's), and what was sent.
        self._start, self._status = _NOT_STARTED, 0
        self._head: ResponseHead | None = None
        self._declared: int | None = None
        self._codings: Codings | None = None
        self._stream = None
        self._reason: PassReason | None = None
        self._coding: str | None = None
        self._cached = self._observed = self._watching = False
        self._bytes_in = self._bytes_out = 0
        # The held body and the flushes (HeldResponse's).
        self._buffer: list[bytes] = []
        self._held, self._hold = 0, _NOT_HELD
        self._sending = self._gone = False
        self._flushing = self._timer = None

    async def send(self, message: Message) -> None:
        if (
            self._state is _PASSING
            and message["type"] != _START_TYPE
            and (message["type"] != _PATHSEND or not self._own_pathsend)
        ):
            # Transparent from here on: no state is kept between messages, so nothing of ours
            # can interleave (a pause flush never runs once passing).
            if self._watching:
                await self._send_watched(message)
            else:
                await self._send(message)
            return
        if self._sending:
            raise RuntimeError(
                f"{message['type']!r} sent while the previous message is still being sent; "
                "ASGI send() calls must not overlap"
            )
        self._sending = True
        kind = message["type"]
        try:
            if self._flushing is not None:
                await self._flushing.wait()
            if kind == _BODY:
                await self._body(message)
            elif kind == _START_TYPE:
                if self._state is not _START:
                    raise self._unexpected(kind)
                await self._start_response(message)
            elif kind == _PATHSEND:
                await self._pathsend(message)
            elif self._state is not _DROPPING:  # our 304/412 announced no trailers
                await self._send_other(message)
        finally:
            self._sending = False
        layer = self._dictionaries
        if layer is not None and kind != _START_TYPE:
            await layer.observe(message)

    async def _send_watched(self, message: Message) -> None:
        """A passing response's message, counted for the report and seen by the layer."""
        if self._observed and message["type"] == _BODY:
            self._bytes_in += len(message.get("body", b""))
        await self._send(message)
        if self._dictionaries is not None:
            await self._dictionaries.observe(message)

    async def _send_other(self, message: Message) -> None:
        """Trailers, early hints, debug and unknown messages go on in the order sent, after
        a held head (flushed first when it became a stream)."""
        if self._state is _HELD:
            decision = _decide.decide_interrupted(bool(self._buffer), self._request)
            if decision.action is Action.STREAM:
                await self._send_held_as_stream()
                if self._stream is not None:
                    await self._stream.flush()
            else:
                await self._send_held(decision.reason)
        await self._send(message)

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

    # -- START -----------------------------------------------------------------------------

    async def _start_response(self, message: Message) -> None:
        layer = self._dictionaries
        if layer is not None:
            message = layer.start(message)
        observed = self._observed = self._report_wanted()
        self._watching = observed or (layer is not None and layer.observing)
        if _decide.passes_unread(self._request, policy=self._policy is not None, report=observed):
            self._transition(_PASSING)
            await self._send({**message, "headers": with_vary(message.get("headers", ()))})
            return
        decision = self._decide_start(message)
        action = decision.action
        if action is Action.PASS:
            self._reason = decision.reason
            self._transition(_PASSING)
            await self._send(self._start_with_vary())
        elif action is Action.HOLD:
            self._hold_start()
        elif action is Action.NOT_MODIFIED:
            self._reason = PassReason.STATUS
            self._transition(_PASSING)
            await self._send_not_modified(message)
        else:
            coding = decision.coding
            assert coding is not None
            stream = action is Action.STREAM
            if await self._answer_precondition(coding, stream=stream):
                return
            self._coding = coding
            if stream:
                self._transition(_STREAMING)
                await self._send_stream_start(coding, flush_each=True)
            else:
                self._transition(_HEAD_ONLY)
                await self._send_encoded_start(coding, content_length=None)

    def _decide_start(self, message: Message) -> Decision:
        """Read the start (under the policy's settings, when there is one) and decide it,
        the dictionary layer asked when the response may be encoded."""
        policy = self._policy
        settings, enabled = self._settings, True
        if policy is not None:
            policy.started = True
            settings = self._settings = policy.settings
            enabled = policy.enabled
            self._request = _decide.request_for_settings(self._request, settings)
        self._start = message
        status = self._status = message["status"]
        head = self._head = ResponseHead(message.get("headers", ()))
        self._declared = head.content_length
        decision = _decide.decide_start(status, head, self._request, settings, enabled=enabled)
        if decision.action is not Action.PASS:  # it may encode, or answer with its validators
            events = decision.action is Action.STREAM
            codings = self._codings = Codings(settings, policy, timed=self._observed, events=events)
            layer = self._dictionaries
            if layer is not None and _decide.asks_dictionary(decision):
                request = self._request = codings.choose_dcz(layer, self._request)
                decision = _decide.decide_with_dictionary(
                    decision, status, head, request, settings, enabled=enabled
                )
        return decision

    def _hold_start(self) -> None:
        """Hold the head until the body decides, as :func:`~._decide.decide_hold` says."""
        self._transition(_HELD)
        cache = self._policy.cache if self._policy is not None else None
        hold = self._hold = _decide.decide_hold(
            self._declared, None if cache is None else cache.max_size, self._settings
        )
        if hold.timer:
            self._touch_timer()  # headers on time: a pause before the first body sends them

    def _report_wanted(self) -> bool:
        settings = self._policy.settings if self._policy is not None else self._settings
        return settings.on_response is not None or logger.isEnabledFor(logging.DEBUG)
