"""One response body encoded as a stream, and when its bytes are flushed to the client.

Two ways to flush, chosen per response by the responder:

- **per message** (event streams, and every stream with ``flush_delay=0``): each message the
  app sends is compressed and flushed at once, so the client can decode it on arrival.
- **coalesced** (every other stream): messages are fed to the encoder without a flush, as a
  whole body would be, so a stream of small messages compresses like one body. The bytes
  waiting in the encoder are flushed ``flush_delay`` after the oldest of them arrived (the
  responder's pause timer calls :meth:`EncodedStream.flush`), when :data:`FLUSH_BOUND` bytes
  wait unflushed, and at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, ClassVar, NoReturn

import anyio
from anyio.lowlevel import checkpoint

from ..codecs._offload import offload

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._types import Receive, Send
    from ..codecs._offload import CodecRunner
    from ..codecs.encoders import Encoder

__all__ = [
    "FILE_CHUNK",
    "FLUSH_BOUND",
    "EncodedStream",
    "send_file_chunks",
    "send_file_unencoded",
]

FILE_CHUNK = 256 * 1024
"""How much of a file (ASGI path send) one worker-thread step reads and encodes."""

FLUSH_BOUND = 256 * 1024
"""Unflushed input after which a coalesced stream flushes even while the app keeps sending:
the most a client waits for, in bytes, when messages never pause. A flush costs a few bytes
and the codec's block history, so flushing this rarely costs next to nothing in ratio."""


class _Released:
    """What a closed stream holds instead of its encoder: every step is an error."""

    encoding: ClassVar[str] = ""

    def _fail(self, chunk: bytes = b"") -> NoReturn:
        raise RuntimeError("the stream is closed: its encoder was released")

    compress = flush = finish = _fail


_RELEASED = _Released()


class EncodedStream:
    """An encoder between the app's body messages and the server's ``send``.

    Args:
        send: the server's send.
        encoder: a fresh encoder for the response's coding.
        runner: runs each codec step inline or on a thread.
        prefix: bytes to send before the encoder's first output (BREACH padding).
        flush_each: flush after every message instead of coalescing.
    """

    __slots__ = ("_encoder", "_flush_each", "_prefix", "_runner", "_send", "bytes_out", "pending")

    def __init__(
        self, send: Send, encoder: Encoder, runner: CodecRunner, prefix: bytes, *, flush_each: bool
    ) -> None:
        self._send = send
        self._encoder = encoder
        self._runner = runner
        self._prefix = prefix
        self._flush_each = flush_each
        self.pending = 0  # bytes fed since the last flush
        self.bytes_out = 0

    async def write(self, body: bytes) -> None:
        """Encode a message that more messages will follow; send what the codec gives."""
        encoder = self._encoder
        step: Callable[[bytes], bytes]
        if self._flush_each:
            step = encoder.flush
        else:
            pending = self.pending + len(body)
            if pending >= FLUSH_BOUND:
                self.pending = 0
                step = encoder.flush
            else:
                self.pending = pending
                step = encoder.compress
        # The hot path of every stream message, so no coroutine layer more than needed.
        runner = self._runner
        chunk = runner.inline(step, body)
        if chunk is None:
            chunk = await runner.on_thread(step, body)
        if chunk or self._prefix:
            if self._prefix:
                chunk, self._prefix = self._prefix + chunk, b""
            self.bytes_out += len(chunk)
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        if runner.owes_a_turn():
            await checkpoint()

    async def flush(self) -> None:
        """Make everything fed so far decodable by the client (``flush_delay`` passed)."""
        if self.pending or self._prefix:
            self.pending = 0
            await self.send_chunk(await self._runner.run(self._encoder.flush, b""))

    async def end(self, body: bytes) -> None:
        """Encode the final message and end the stream."""
        self.pending = 0
        chunk = await self._runner.run(self._encoder.finish, body)
        if self._prefix:
            chunk, self._prefix = self._prefix + chunk, b""
        self.bytes_out += len(chunk)
        await self._send({"type": "http.response.body", "body": chunk, "more_body": False})

    def close(self) -> None:
        """Let go of the encoder: the response has ended, failed or lost its client, and a
        codec's C memory (hundreds of KiB for some) should not wait for the garbage collector
        to find whatever still refers to this stream."""
        self._encoder = _RELEASED

    async def send_chunk(self, chunk: bytes) -> None:
        """Send encoded bytes as a body message with more to follow."""
        if self._prefix:
            chunk, self._prefix = self._prefix + chunk, b""
        self.bytes_out += len(chunk)
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def send_file(self, file: BinaryIO, receive: Receive) -> bool:
        """Read, encode and send ``file`` to its end, then end the stream. Each read and its
        encoding run on a worker thread (both block); the file is ours to chunk, so nothing
        is flushed before the end. ``receive`` is watched as :func:`send_file_chunks` says.
        Returns ``False`` when the client left (the stream is then left unended).
        """
        encoder = self._encoder

        def encode_next(size: int) -> bytes | None:
            data = file.read(size)
            return encoder.compress(data) if data else None

        sent = await send_file_chunks(encode_next, self._runner.on_thread, self.send_chunk, receive)
        if not sent:
            return False
        await self.end(b"")
        return True


async def send_file_unencoded(file: BinaryIO, send: Send, receive: Receive) -> bool:
    """Send ``file`` as it is, in body messages, and end the body: what a server that offers
    the ASGI path send extension does with ``http.response.pathsend``, for one that does not.
    Returns ``False`` when the client left (the body is then left unended)."""

    def read_next(size: int) -> bytes | None:
        return file.read(size) or None

    async def send_chunk(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    if not await send_file_chunks(read_next, offload, send_chunk, receive):
        return False
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return True


async def send_file_chunks(
    next_chunk: Callable[[int], bytes | None],
    on_thread: Callable[[Callable[[int], bytes | None], int], Awaitable[bytes | None]],
    send_chunk: Callable[[bytes], Awaitable[None]],
    receive: Receive,
) -> bool:
    """Send ``next_chunk(FILE_CHUNK)`` (run by ``on_thread``) with ``send_chunk`` until it
    returns ``None``.

    Meanwhile no app reads ``receive``: it is watched for the client leaving, since some
    servers' ``send`` returns silently once it has, and the file would be read (and
    encoded) to its end for nobody. Returns ``False`` when the client left.
    """
    left = False
    async with anyio.create_task_group() as watch:

        async def watch_for_disconnect() -> None:
            nonlocal left
            if await _wait_for_disconnect(receive):
                left = True
                watch.cancel_scope.cancel()

        watch.start_soon(watch_for_disconnect)
        while (chunk := await on_thread(next_chunk, FILE_CHUNK)) is not None:
            if chunk:
                await send_chunk(chunk)
        watch.cancel_scope.cancel()
    return not left


async def _wait_for_disconnect(receive: Receive) -> bool:
    """Read ``receive`` until ``http.disconnect`` (``True``), or until it shows it will not
    wait for one (``False``: the client is then not watched).

    Body messages the app left unread come first. After the last of them a server's receive
    waits until the client has gone (ASGI HTTP spec); one that returns anything else at once
    instead would make this loop spin, so watching stops there. Each turn yields, so that a
    receive that never suspends (empty chunks, returned at once) cannot starve the encoding
    of the file it watches over.
    """
    body_done = False
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            return True
        if body_done:
            return False
        body_done = kind != "http.request" or not message.get("more_body", False)
        await checkpoint()
