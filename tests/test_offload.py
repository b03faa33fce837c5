"""Large chunks are compressed on a worker thread, so the event loop keeps serving; small ones
are compressed inline, where a thread hand-off would cost more than it saves.

Order is made observable, not timed: the encoder calls are tracked (tests/tracked.py), so a
test knows on which thread each ran, and a call parked on a worker thread lets the test prove
that another task ran to completion meanwhile.
"""

from __future__ import annotations

import random

import anyio

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.settings import DEFAULT_THREAD_MIN_SIZE

from .conftest import body, decode, run, start, text
from .tracked import EncoderTracker

_WORDS = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta", b"iota"]
_rng = random.Random(0)
BIG = b" ".join(_rng.choice(_WORDS) + b"%d" % _rng.randrange(10_000) for _ in range(300_000))


def one_chunk_app(chunk: bytes) -> CompressMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(chunk))

    return CompressMiddleware(app, br_level=9)


async def test_large_chunk_leaves_the_loop_free(encoders: EncoderTracker) -> None:
    """While the chunk is on a worker thread, another task on the loop runs to its end."""
    encoders.hold = True  # the worker-thread call waits until the other task has run
    beside_ran = anyio.Event()

    async def beside() -> None:
        with anyio.fail_after(10):
            while not encoders.entered.is_set():  # noqa: ASYNC110 - a thread's state
                await anyio.sleep(0.001)
        beside_ran.set()  # on the loop, while the compressing call is parked on its thread
        encoders.release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(beside)
        rec = await run(one_chunk_app(BIG), accept_encoding="br", deadline=60)
    assert beside_ran.is_set()
    assert decode("br", rec.body) == BIG
    assert encoders.off_loop_calls >= 1


async def test_inline_compression_runs_on_the_loop_below_the_threshold(
    encoders: EncoderTracker,
) -> None:
    """The control: the same chunk, kept inline by a threshold above its size."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(BIG))

    middleware = CompressMiddleware(app, br_level=9, thread_min_size=len(BIG) + 1)
    rec = await run(middleware, accept_encoding="br", deadline=60)
    assert decode("br", rec.body) == BIG
    assert encoders.threads and encoders.off_loop_calls == 0


async def test_small_chunks_are_compressed_on_the_loop(encoders: EncoderTracker) -> None:
    small = text(4000)
    assert len(small) < DEFAULT_THREAD_MIN_SIZE
    rec = await run(one_chunk_app(small), accept_encoding="br")
    assert decode("br", rec.body) == small
    assert encoders.threads and encoders.off_loop_calls == 0
