"""Large chunks are compressed on a worker thread, so the event loop keeps serving; small ones
are compressed inline, where a thread hand-off would cost more than it saves."""

from __future__ import annotations

import random
import threading

import anyio

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.settings import DEFAULT_THREAD_MIN_SIZE

from .conftest import body, decode, run, start, text

# br-9 on 3 MB of text takes several hundred ms (whichever zlib is installed): long enough
# for a 1 ms ticker to tick dozens of times if, and only if, the loop is free meanwhile.
_WORDS = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta", b"iota"]
_rng = random.Random(0)
BIG = b" ".join(_rng.choice(_WORDS) + b"%d" % _rng.randrange(10_000) for _ in range(300_000))


async def ticks_during_compression(
    chunk: bytes, thread_min_size: int = DEFAULT_THREAD_MIN_SIZE
) -> tuple[int, bytes]:
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await anyio.sleep(0.001)
            ticks += 1

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(chunk))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.01)
        before = ticks
        rec = await run(
            CompressMiddleware(app, br_level=9, thread_min_size=thread_min_size),
            accept_encoding="br",
            deadline=60,
        )
        during = ticks - before
        done = True
    return during, rec.body


async def test_large_chunk_leaves_the_loop_free() -> None:
    during, encoded = await ticks_during_compression(BIG)
    assert decode("br", encoded) == BIG
    assert during >= 20, f"the loop ran only {during} times while a large chunk was compressed"


async def test_inline_compression_blocks_the_loop_below_the_threshold() -> None:
    """The control: the same chunk, kept inline by a threshold above its size."""
    during, encoded = await ticks_during_compression(BIG, thread_min_size=len(BIG) + 1)
    assert decode("br", encoded) == BIG
    assert during <= 3


async def test_small_chunks_do_not_start_worker_threads() -> None:
    before = {t.ident for t in threading.enumerate()}
    during, encoded = await ticks_during_compression(text(4000))
    assert decode("br", encoded) == text(4000)
    new_threads = {t.name for t in threading.enumerate() if t.ident not in before}
    assert not new_threads
