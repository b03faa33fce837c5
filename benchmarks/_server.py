"""The uvicorn server ``eventloop.py`` measures: one middleware around a two-route app.

``python -m benchmarks._server MIDDLEWARE [LIFETIME_S]`` binds 127.0.0.1 on a free port,
prints ``PORT <n>`` and serves until ``LIFETIME_S`` (default 300) have passed or it is
terminated. Routes:

- ``/big``: the 1 MiB JSON document, one message with Content-Length (compressed by the
  middleware when the request asks);
- ``/ping``: ``pong`` (4 bytes, below every middleware's minimum size);
- ``/stream?mib=N``: a Starlette ``StreamingResponse`` of N MiB of CSV rows (default 50) in
  64 KiB chunks, from an async generator that never awaits (rows already fetched, as in a CSV
  export): the case where only the server's ``send()`` can give the loop a turn;
- ``/tokens?count=N&interval=S``: ``text/plain`` tokens of 40 bytes, one every ``S`` seconds
  (default 100 every 0.02 s), each stamped with the server's ``time.monotonic()`` just before
  it is sent (``streams_flush.py`` compares it with the client's clock: same machine, same clock);
- ``/late?wait=S``: a ``text/plain`` stream whose first body comes after ``S`` seconds;
- ``/csv?rows=N``: a Starlette ``StreamingResponse`` over a sync generator, one CSV row per
  message (``csv_rows``), as a CSV export is usually written; with ``&page=P&gap=S``, an async
  generator that pauses ``S`` seconds every ``P`` rows (a cursor fetching its next page);
- ``/lag/arm?until=T``: run the lag probe until ``time.time()`` reaches ``T``;
- ``/lag?start=T0&stop=T1``: the probe's lateness figures (seconds) between two ``time.time()``
  values, as a JSON list.

The lag probe is a task that sleeps 1 ms in a loop and records how late it wakes up: a loop
blocked by inline compression shows up as late wake-ups.

The server runs on the stdlib asyncio loop (``asyncio.run``; uvloop is not used even when
installed) with uvicorn's default HTTP parser (httptools when installed, else h11).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.responses import StreamingResponse

from .payloads import json_document

__all__ = [
    "MIDDLEWARES",
    "STALL_S",
    "STREAM_CHUNK",
    "csv_chunks",
    "csv_rows",
    "main",
    "middleware",
    "never_awaiting_stream",
    "token",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STALL_S = 0.005  # a wake-up later than this counts as a stalled loop
_TICK_S = 0.001
STREAM_CHUNK = 64 * 1024


def csv_chunks(count: int = 64) -> list[bytes]:
    """``count`` distinct 64 KiB pieces of a CSV export (4 MiB in all by default).

    Distinct so that a coding with a large window (zstd) cannot compress a repeat to nothing;
    built once, so that the app costs the server (almost) no CPU of its own.
    """
    rows = bytearray()
    row = 0
    while len(rows) < count * STREAM_CHUNK:
        rows += b"%d,customer-%d,%d.%02d,2026-11-%02d,%s\n" % (
            row, row * 7919 % 100_003, row * 37 % 10_000, row % 100, row % 28 + 1,
            b"paid" if row % 3 else b"refunded",
        )  # fmt: skip
        row += 1
    return [bytes(rows[i * STREAM_CHUNK : (i + 1) * STREAM_CHUNK]) for i in range(count)]


def csv_rows(count: int) -> list[bytes]:
    """``count`` rows of a CSV export, one row each (about 40 bytes a row)."""
    return [
        b"%d,customer-%d,%d.%02d,2026-11-%02d,%s\n"
        % (
            row,
            row * 7919 % 100_003,
            row * 37 % 10_000,
            row % 100,
            row % 28 + 1,
            b"paid" if row % 3 else b"refunded",
        )  # fmt: skip
        for row in range(count)
    ]


async def paged(rows: list[bytes], page: int, gap: float) -> AsyncIterator[bytes]:
    """The rows, one per message, with a ``gap`` s pause every ``page`` rows: a database
    cursor that fetches the next page of rows."""
    for index, row in enumerate(rows):
        if index and not index % page:
            await asyncio.sleep(gap)
        yield row


def token(index: int) -> bytes:
    """A 40-byte token: its index and the server's ``time.monotonic()`` at its send."""
    head = b"%06d %.6f " % (index, time.monotonic())
    return head + b"x" * (39 - len(head)) + b"\n"


async def send_tokens(send: Send, count: int, interval: float) -> None:
    """``count`` tokens, one every ``interval`` seconds, as an LLM's answer arrives."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})  # fmt: skip
    for index in range(count):
        await asyncio.sleep(interval)
        await send({"type": "http.response.body", "body": token(index), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def send_late(send: Send, wait: float) -> None:
    """A stream whose head is sent at once and whose first body comes ``wait`` s later."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})  # fmt: skip
    await asyncio.sleep(wait)
    await send({"type": "http.response.body", "body": b"the answer, at last\n" * 40})


def never_awaiting_stream(chunks: list[bytes], mib: int) -> StreamingResponse:
    """A StreamingResponse of ``mib`` MiB whose generator yields without ever awaiting."""

    async def rows() -> AsyncIterator[bytes]:
        for index in range(mib * 1024 * 1024 // STREAM_CHUNK):
            yield chunks[index % len(chunks)]

    # text/plain: text/csv is not in the default compressible types (Flask-Compress's list).
    return StreamingResponse(rows(), media_type="text/plain")


class LagProbe:
    """Sleeps ``_TICK_S`` in a loop while armed; keeps (wall time, lateness) of each wake-up.

    Armed only for a measurement window (``/lag/arm``), so that an idle server costs the
    machine nothing while other servers are measured.
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.until = 0.0
        self.armed = asyncio.Event()

    def arm(self, until: float) -> None:
        self.samples = []
        self.until = until
        self.armed.set()

    async def run(self) -> None:
        while True:
            await self.armed.wait()
            while time.time() < self.until:
                began = time.perf_counter()
                await asyncio.sleep(_TICK_S)
                late = time.perf_counter() - began - _TICK_S
                self.samples.append((time.time(), late))
            self.armed.clear()

    def lags(self, start: float, stop: float) -> list[float]:
        """Every wake-up's lateness (s) between two ``time.time()`` values."""
        return [round(late, 6) for moment, late in self.samples if start <= moment <= stop]


def make_app(probe: LagProbe) -> ASGIApp:
    big = json_document()
    big_length = b"%d" % len(big)
    stream_chunks = csv_chunks()
    tasks: set[asyncio.Task[None]] = set()

    async def respond(send: Send, body: bytes, content_type: bytes, length: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", length), (b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    task = asyncio.get_running_loop().create_task(probe.run())
                    tasks.add(task)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    for task in tasks:
                        task.cancel()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/big":
            await respond(send, big, b"application/json", big_length)
        elif path == "/ping":
            await respond(send, b"pong", b"text/plain", b"4")
        elif path == "/stream":
            query = parse_qs(scope["query_string"].decode())
            mib = int(query.get("mib", ["50"])[0])
            await never_awaiting_stream(stream_chunks, mib)(scope, receive, send)
        elif path == "/tokens":
            query = parse_qs(scope["query_string"].decode())
            await send_tokens(send, int(query.get("count", ["100"])[0]),
                              float(query.get("interval", ["0.02"])[0]))  # fmt: skip
        elif path == "/late":
            wait = float(parse_qs(scope["query_string"].decode()).get("wait", ["1"])[0])
            await send_late(send, wait)
        elif path == "/csv":
            query = parse_qs(scope["query_string"].decode())
            rows = csv_rows(int(query.get("rows", ["2000"])[0]))
            page, gap = int(query.get("page", ["0"])[0]), float(query.get("gap", ["0"])[0])
            pieces = paged(rows, page, gap) if page else iter(rows)
            await StreamingResponse(pieces, media_type="text/plain")(scope, receive, send)
        elif path == "/lag/arm":
            probe.arm(float(parse_qs(scope["query_string"].decode())["until"][0]))
            await respond(send, b"armed", b"text/plain", b"5")
        elif path == "/lag":
            query = parse_qs(scope["query_string"].decode())
            lags = probe.lags(float(query["start"][0]), float(query["stop"][0]))
            body = json.dumps(lags).encode()
            await respond(send, body, b"application/json", b"%d" % len(body))
        else:
            await respond(send, b"not found", b"text/plain", b"9")

    return app


def _ours(app: ASGIApp) -> ASGIApp:
    from asgi_compress import CompressMiddleware

    return CompressMiddleware(app)


def _ours_nocache(app: ASGIApp) -> ASGIApp:
    from asgi_compress import CompressMiddleware

    return CompressMiddleware(app, cache=None)


def _ours_inline(app: ASGIApp) -> ASGIApp:
    from asgi_compress import CompressMiddleware

    return CompressMiddleware(app, thread_min_size=1 << 62, cache=None)


def _starlette_gzip(app: ASGIApp) -> ASGIApp:
    from starlette.middleware.gzip import GZipMiddleware

    return GZipMiddleware(app, minimum_size=500, compresslevel=6)


def _starlette_compress(app: ASGIApp) -> ASGIApp:
    from starlette_compress import CompressMiddleware

    # Annotated: without the bench extra installed, mypy sees the peers as Any.
    middleware: ASGIApp = CompressMiddleware(
        app, minimum_size=500, zstd_level=3, brotli_quality=4, gzip_level=6
    )
    return middleware


def _brotli_asgi(app: ASGIApp) -> ASGIApp:
    from brotli_asgi import BrotliMiddleware

    middleware: ASGIApp = BrotliMiddleware(app, quality=4, mode="generic", minimum_size=400)
    return middleware


def _ours_cache(kind: str) -> Callable[[ASGIApp], ASGIApp]:
    """Ours with a cache (benchmarks/cache.py --load): where from the environment."""

    def wrap(app: ASGIApp) -> ASGIApp:
        from asgi_compress import CompressMiddleware, DictCache, DirectoryCache
        from asgi_compress.cache import CacheBackend, RedisCache

        backend: CacheBackend
        if kind == "dict":
            backend = DictCache()
        elif kind == "dir":
            backend = DirectoryCache(os.environ["BENCH_CACHE_DIR"])
        else:
            backend = RedisCache(os.environ["BENCH_REDIS_URL"])
        return CompressMiddleware(app, cache=backend)

    return wrap


MIDDLEWARES: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "none": lambda app: app,
    "ours": _ours,
    "ours-nocache": _ours_nocache,
    "ours-inline": _ours_inline,
    "starlette-gzip": _starlette_gzip,
    "starlette-compress": _starlette_compress,
    "brotli-asgi": _brotli_asgi,
    "ours-cache-dict": _ours_cache("dict"),
    "ours-cache-dir": _ours_cache("dir"),
    "ours-cache-redis": _ours_cache("redis"),
}


def middleware(name: str) -> Callable[[ASGIApp], ASGIApp]:
    """A name of :data:`MIDDLEWARES`, or ``ours-delay-<ms>``: ours with that ``flush_delay``."""
    if name.startswith("ours-delay-"):
        delay = float(name.removeprefix("ours-delay-")) / 1000

        def wrap(app: ASGIApp) -> ASGIApp:
            from asgi_compress import CompressMiddleware

            return CompressMiddleware(app, flush_delay=delay)

        return wrap
    return MIDDLEWARES[name]


async def _serve(server: uvicorn.Server, sock: socket.socket, lifetime: float) -> None:
    async def stop_later() -> None:
        await asyncio.sleep(lifetime)
        server.should_exit = True

    watchdog = asyncio.get_running_loop().create_task(stop_later())
    try:
        await server.serve(sockets=[sock])
    finally:
        watchdog.cancel()


def main() -> None:
    name = sys.argv[1]
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    app = middleware(name)(make_app(LagProbe()))
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every small response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    asyncio.run(_serve(uvicorn.Server(config), sock, lifetime))


if __name__ == "__main__":
    main()
