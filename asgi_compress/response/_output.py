"""What a response sends: the heads and bodies that carry out the responder's decisions.

:class:`ResponseOutput` is the lowest sending layer of
:class:`~asgi_compress.response._responder.Responder` (``_states.py`` <- ``_output.py`` <-
``_held.py`` <- ``_files.py`` <- ``_responder.py``): it builds and sends our own 304/412,
the encoded head of a whole body or a stream, the app's head unchanged (Vary merged) with
the bytes held so far, and it reports each response when it ends. It sends, but never
decides and never changes the response's state. Its slots hold what was sent (status,
reason, coding, byte counts, the stream): they are created, with every other slot of the
responder, in ``Responder.__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http._headers import VARY_HEADER, ResponseHead
from ..http._paths import request_path
from ..report import CompressionReport, PassReason, deliver
from ._states import StateMachine
from ._stream import EncodedStream

if TYPE_CHECKING:
    from .._types import Message, Scope, Send
    from ..settings import Settings
    from ._codings import Codings
    from ._decide import RequestView

__all__ = ["ResponseOutput"]

_BODY = "http.response.body"


class ResponseOutput(StateMachine):
    """The sending half of one response (see the module docstring)."""

    __slots__ = (
        "_bytes_in",
        "_bytes_out",
        "_cached",
        "_coding",
        "_codings",
        "_declared",
        "_head",
        "_reason",
        "_request",
        "_scope",
        "_send",
        "_settings",
        "_start",
        "_status",
        "_stream",
    )

    _send: Send
    _scope: Scope
    _settings: Settings
    _request: RequestView
    _start: Message
    _head: ResponseHead | None
    _codings: Codings | None
    _declared: int | None
    _status: int
    _reason: PassReason | None
    _coding: str | None
    _cached: bool
    _bytes_in: int
    _bytes_out: int
    _stream: EncodedStream | None

    async def _send_not_modified(self, message: Message) -> None:
        """Send the app's 304 to a validator we stripped: without representation metadata
        (Quart's keeps Content-Type), with the validator of the representation the client
        holds."""
        assert self._codings is not None and self._head is not None
        headers = self._codings.app_not_modified(
            self._request, self._head, message.get("headers", ())
        )
        await self._send({**message, "headers": headers})

    async def _send_precondition_answer(self, coding: str, *, stream: bool) -> bool:
        """Send our bodiless 304/412 instead of the response encoded with ``coding``, when
        the request's preconditions answer first (decided before any encoding work).
        Returns whether it answered."""
        assert self._codings is not None and self._head is not None
        answer = self._codings.precondition_answer(
            self._request, self._head, self._start.get("headers", ()), coding, stream=stream
        )
        if answer is None:
            return False
        self._status, headers = answer
        self._reason = PassReason.STATUS
        await self._send(
            {"type": "http.response.start", "status": self._status, "headers": headers}
        )
        await self._send({"type": _BODY, "body": b"", "more_body": False})
        return True

    async def _send_stream_start(self, coding: str, *, flush_each: bool) -> EncodedStream:
        """Send the encoded head of a stream and open its encoder."""
        codings = self._codings
        assert codings is not None
        encoder, prefix = codings.new_encoder(coding)
        stream = self._stream = EncodedStream(
            self._send, encoder, codings.runner_for(coding), prefix, flush_each=flush_each
        )
        await self._send_encoded_start(coding, content_length=None)
        return stream

    async def _send_unchanged_head(self, held: bytes) -> None:
        """Send the original head (Vary merged) and the bytes held so far, unchanged."""
        await self._send(self._start_with_vary())
        if held:
            await self._send({"type": _BODY, "body": held, "more_body": True})

    async def _send_unencoded(self, body: bytes, *, more: bool, streamed: bool) -> None:
        """Send the original head and the whole body as the app sent them; a body collected
        from several messages gains the Content-Length the app could not give."""
        start = self._start_with_vary()
        if streamed and self._declared is None and not start.get("trailers"):
            length = (b"content-length", b"%d" % len(body))
            start = {**start, "headers": [*start.get("headers", ()), length]}
        await self._send(start)
        await self._send({"type": _BODY, "body": body, "more_body": more})

    async def _send_encoded_start(self, coding: str, *, content_length: int | None) -> None:
        assert self._codings is not None and self._head is not None
        headers = self._codings.encoded_headers(
            self._start.get("headers", ()), self._head, coding, content_length=content_length
        )
        await self._send({**self._start, "headers": headers})

    def _start_with_vary(self) -> Message:
        start = self._start
        assert self._head is not None
        if self._head.needs_vary and self._reason is not PassReason.EXCLUDED:
            return {**start, "headers": [*start.get("headers", ()), VARY_HEADER]}
        return start

    def _report(self) -> None:
        head = self._head
        scope = self._scope
        stream = self._stream
        runner = self._codings.runner if self._codings is not None else None
        coding = self._coding if self._reason is None else None
        report = CompressionReport(
            coding=coding,
            reason=self._reason,
            status=self._status,
            media_type=head.media_type if head is not None else "",
            bytes_in=self._bytes_in,
            bytes_out=stream.bytes_out if stream is not None else self._bytes_out or self._bytes_in,
            codec_seconds=runner.seconds if runner is not None else 0.0,
            cached=self._cached,
            path=request_path(scope),
        )
        deliver(report, self._settings.on_response)
