"""A response's path sends (the ASGI path send extension): files named instead of sent.

Theory of operation
-------------------
An ``http.response.pathsend`` names a file for the server to send. :class:`FileResponse`
carries it out in each state:

- PASSING: on to a server that offers the extension; when the middleware offered it itself
  (``own_pathsend``, so that ``StaticFiles`` names its files), the file is read and sent
  here as body messages, so no path send reaches a server that did not offer it.
- HELD: the file is opened first (a missing or unreadable file fails the app, not a
  half-sent response), then answered as :func:`~._decide.decide_held_file` says: its fresh
  precompressed sibling, the file fed through the body states as the app's messages would
  have come, read whole for the cache, or encoded as a stream.
- STREAMING: the file is read and encoded to its end; HEAD_ONLY: the body ends.

Every unencoded file (the app's, a sibling, a fed one) goes out through one reader,
:meth:`FileResponse._send_file_body`, which watches ``receive`` for the client leaving.
"""

from __future__ import annotations

import functools
from io import BufferedReader
from typing import TYPE_CHECKING, BinaryIO

from ..codecs._offload import offload
from ..report import PassReason
from . import _decide
from ._decide import FilePlan
from ._held import HeldResponse
from ._precompressed import open_sibling, sibling_codings
from ._states import State
from ._stream import send_file_unencoded

if TYPE_CHECKING:
    from .._types import Message, Send

__all__ = ["FileResponse"]

_BODY = "http.response.body"
_PATHSEND = "http.response.pathsend"
_START, _HELD, _STREAMING, _HEAD_ONLY, _PASSING, _FINISHING, _DROPPING, _DONE = State


def _open_binary(path: str) -> BufferedReader:
    return open(path, "rb")


class FileResponse(HeldResponse):
    """The path-send side of one response (see the module docstring)."""

    __slots__ = ("_own_pathsend",)

    _own_pathsend: bool

    async def _pathsend(self, message: Message) -> None:
        state = self._state
        if state is _HELD or state is _STREAMING:
            await self._send_file(message)
        elif state is _PASSING:
            if self._own_pathsend:
                file = await offload(_open_binary, message["path"])
                with file:
                    await self._pass_file(message, file)
            else:
                await self._send(message)
        elif state is _HEAD_ONLY:
            self._transition(_DONE)
            await self._send({"type": _BODY, "body": b"", "more_body": False})
        elif state is not _DROPPING:
            raise self._unexpected(message["type"])

    async def _send_file(self, message: Message) -> None:
        """Encode the file the app asked the server to send, opened before anything is
        sent."""
        file = await offload(_open_binary, message["path"])
        with file:
            if self._state is _HELD and not await self._send_held_file(message, file):
                return
            stream = self._stream
            assert stream is not None
            self._transition(_DONE)
            if not self._gone and not await stream.send_file(file, self.receive):
                self._gone = True

    async def _send_held_file(self, message: Message, file: BufferedReader) -> bool:
        """Answer a held path send as :func:`~._decide.decide_held_file` plans it. Returns
        whether the file is left to stream (the response is then STREAMING)."""
        plan = self._plan_file(sibling=self._settings.precompressed)
        if plan is FilePlan.SIBLING:
            if await self._send_sibling(message["path"]):
                return False
            plan = self._plan_file(sibling=False)
        if plan is FilePlan.PASS_AFTER_BODY:
            await self._send_held(PassReason.STARTED_OTHERWISE)
            await self._pass_file(message, file)
        elif plan is FilePlan.FEED:
            await self._send_file_body(file, self._body)
        elif plan is FilePlan.READ_WHOLE:
            data = await offload(file.read, self._hold.limit + 1)
            self._bytes_in += len(data)
            await self._send_whole(data, more=False, streamed=False)
        else:
            await self._send_held_as_stream()
            # Streaming, or else passed, answered with our 304/412, or a HEAD's head sent.
            if self._state is _STREAMING:
                return True
            if self._state is _PASSING:
                await self._pass_file(message, file)
            elif self._state is _HEAD_ONLY:
                await self._send_bodiless({"type": _BODY})
        return False

    def _plan_file(self, *, sibling: bool) -> FilePlan:
        return _decide.decide_held_file(
            body_held=bool(self._buffer),
            sibling=sibling,
            own_pathsend=self._own_pathsend,
            collecting=self._hold.collecting,
            gone=self._gone,
        )

    async def _pass_file(self, message: Message, file: BinaryIO) -> None:
        """The app's path send, unencoded: to a server that offers the extension, else read
        and sent here."""
        if not self._own_pathsend:
            await self._send(message)
        elif not self._gone:
            await self._send_file_body(file, self._send)

    async def _send_file_body(self, file: BinaryIO, send: Send) -> None:
        """Read ``file`` and hand it to ``send`` as body messages, ending the body (the one
        reader of every unencoded file); the client leaving stops it."""
        if not await send_file_unencoded(file, send, self.receive):
            self._gone = True

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
            if await self._answer_precondition(coding, stream=False):
                return True
            self._coding = coding
            self._transition(_DONE)
            self._bytes_out = sibling.size
            trailers = bool(self._start.get("trailers"))
            length = _decide.encoded_length(sibling.size, trailers=trailers)
            await self._send_encoded_start(coding, content_length=length)
            if not self._own_pathsend:
                await self._send({"type": _PATHSEND, "path": sibling.path})
            elif not self._gone:
                await self._send_file_body(sibling.file, self._send)
        return True
