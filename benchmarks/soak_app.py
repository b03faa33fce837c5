"""The app the soak run (``benchmarks/soak.py``) serves: Starlette behind CompressMiddleware.

Every body is a pure function of the URL (:func:`expected_body`), so the client can check
each response byte for byte. Routes, all ``GET`` (and so ``HEAD``):

- ``/small?seed=S``: 200 bytes of text, below ``min_size``: passes through;
- ``/json?seed=S``: 20 kB of JSON-ish text, one message with Content-Length;
- ``/large?seed=S``: 300 kB of HTML, one message: compressed on a worker thread;
- ``/stream?seed=S&n=N&size=K``: N chunks of K bytes, no Content-Length: flushed per chunk;
- ``/sse?seed=S&n=N``: N server-sent events;
- ``/etag?seed=S``: 20 kB with a strong ETag; ``If-None-Match`` with it gives a 304;
- ``/slow?seed=S&n=N&size=K``: N chunks of K bytes, 10 ms apart: the client leaves early.

``python -m benchmarks.soak_app --fd FD --lifetime S`` serves on the listening socket FD (the
parent binds it, so there is no race for a free port) with uvicorn, and stops by itself after
``S`` seconds or as soon as its parent process is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from asgi_compress import CompressMiddleware

__all__ = ["SIZES", "app", "chunk", "etag_for", "expected_body", "sse_event"]

SIZES = {"small": 200, "json": 20_000, "large": 300_000, "etag": 20_000}

_WORDS = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"consectetur", b"adipiscing", b"elit"]


def _corpus(size: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < size:
        out += _WORDS[(i * 7 + i // 5) % len(_WORDS)] + b" %d " % ((i * 31) % 1009)
        i += 1
    return bytes(out[:size])


_CORPUS = _corpus(1 << 20)


def chunk(seed: int, index: int, size: int) -> bytes:
    """``size`` bytes of compressible text that differ with ``seed`` and ``index``."""
    tag = b"<%d:%d>" % (seed, index)
    size = max(size, len(tag))
    offset = (seed * 7919 + index * 104_729) % (len(_CORPUS) - size)
    return tag + _CORPUS[offset : offset + size - len(tag)]


def sse_event(seed: int, index: int) -> bytes:
    return b"id: %d\ndata: event %d of stream %d %s\n\n" % (
        index,
        index,
        seed,
        chunk(seed, index, 80),
    )


def etag_for(seed: int) -> str:
    return f'"v{seed}"'


def expected_body(kind: str, seed: int, n: int = 0, size: int = 0) -> bytes:
    """The exact bytes ``/kind?seed=..&n=..&size=..`` answers with."""
    if kind in SIZES:
        return chunk(seed, 0, SIZES[kind])
    if kind in ("stream", "slow"):
        return b"".join(chunk(seed, i, size) for i in range(n))
    if kind == "sse":
        return b"".join(sse_event(seed, i) for i in range(n))
    raise ValueError(kind)


def _ints(request: Request) -> tuple[int, int, int]:
    q = request.query_params
    return int(q.get("seed", 0)), int(q.get("n", 0)), int(q.get("size", 0))


async def small(request: Request) -> Response:
    seed, _, _ = _ints(request)
    return Response(expected_body("small", seed), media_type="text/plain")


async def json_like(request: Request) -> Response:
    seed, _, _ = _ints(request)
    return Response(expected_body("json", seed), media_type="application/json")


async def large(request: Request) -> Response:
    seed, _, _ = _ints(request)
    return Response(expected_body("large", seed), media_type="text/html")


async def stream(request: Request) -> Response:
    seed, n, size = _ints(request)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            yield chunk(seed, i, size)
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


async def sse(request: Request) -> Response:
    seed, n, _ = _ints(request)

    async def events() -> AsyncIterator[bytes]:
        for i in range(n):
            yield sse_event(seed, i)
            await asyncio.sleep(0.001)

    return StreamingResponse(events(), media_type="text/event-stream")


async def etag(request: Request) -> Response:
    seed, _, _ = _ints(request)
    tag = etag_for(seed)
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"etag": tag})
    return Response(expected_body("etag", seed), media_type="text/plain", headers={"etag": tag})


async def slow(request: Request) -> Response:
    seed, n, size = _ints(request)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            yield chunk(seed, i, size)
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


routes = [
    Route("/small", small),
    Route("/json", json_like),
    Route("/large", large),
    Route("/stream", stream),
    Route("/sse", sse),
    Route("/etag", etag),
    Route("/slow", slow),
]
app = CompressMiddleware(Starlette(routes=routes))


def _watchdog(server: uvicorn.Server, lifetime: float) -> None:
    """Stop the server after ``lifetime`` seconds, when its stdin closes (the parent's way of
    saying "done"), or when the parent process is gone."""
    parent = os.getppid()
    deadline = time.monotonic() + lifetime
    closed = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        closed.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    while time.monotonic() < deadline and os.getppid() == parent and not closed.wait(0.2):
        pass
    server.should_exit = True  # uvicorn's graceful shutdown, without a signal to re-raise
    time.sleep(15)
    os._exit(3)  # the graceful exit did not happen: leave anyway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fd", type=int, required=True, help="a listening socket to serve on")
    parser.add_argument("--lifetime", type=float, default=600, help="stop after this many seconds")
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=args.http,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=_watchdog, args=(server, args.lifetime), daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
