"""Faults: clients that go away, apps that raise, requests cancelled mid-compression.

Every test checks the same aftermath: the exception the app or the server raised comes out
unchanged (the same object), nothing hangs (``anyio.fail_after``), no encoder outlives its
request, no worker thread is still compressing, and nothing is logged at ERROR.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import pytest
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

import asgi_compress.encoders
from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from asgi_compress.encoders import Encoder

from .conftest import ENCODINGS, Decoder, body, decode, make_scope, start, text

THREAD_MIN = 64 * 1024
BIG = text(128 * 1024)  # compressible, above THREAD_MIN: goes to a worker thread


def _slow_text(size: int) -> bytes:
    """Words drawn at random: compresses, but slowly at br 11 (~0.3 s for 256 KiB)."""
    rng = random.Random(size)
    words = [
        bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10))) for _ in range(4000)
    ]
    return b" ".join(rng.choices(words, k=size // 5))[:size]


SLOW = _slow_text(256 * 1024)
ENCODER_TYPES = tuple(c for c in asgi_compress.encoders.ENCODERS.values() if isinstance(c, type))
_ENCODERS_FILE = os.path.abspath(asgi_compress.encoders.__file__)
_THIS_FILE = os.path.abspath(__file__)
_ENCODER_VERBS = frozenset({"compress", "flush", "finish"})


class AppError(Exception):
    """Raised by the test apps."""


# -- aftermath checks ----------------------------------------------------------------------


def busy_compression_threads() -> list[str]:
    """Threads (other than this one) with an encoder call on their stack right now."""
    me = threading.get_ident()
    names = {t.ident: t.name for t in threading.enumerate()}
    busy = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        f: Any = frame
        while f is not None:
            code = f.f_code
            if code.co_filename == _ENCODERS_FILE or (
                code.co_filename == _THIS_FILE and code.co_name in _ENCODER_VERBS
            ):
                busy.append(names.get(ident, str(ident)))
                break
            if code.co_name == "encode_next":  # the middleware's pathsend reader
                busy.append(names.get(ident, str(ident)))
                break
            f = f.f_back
    return busy


def live_encoders() -> int:
    gc.collect()
    return sum(isinstance(o, (*ENCODER_TYPES, GatedEncoder)) for o in gc.get_objects())


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Aftermath:
    """Baselines taken before a scenario, and the checks after it."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        self.caplog = caplog
        self.encoders = live_encoders()
        self.threads = threading.active_count()

    def check(self) -> None:
        assert busy_compression_threads() == [], "a worker thread is still compressing"
        assert live_encoders() == self.encoders, "an encoder outlived its request"
        # Worker threads are pooled, so some may stay (idle); never more than our limiter's
        # capacity (one compressing thread per CPU).
        assert threading.active_count() <= self.threads + _cpu_count()
        errors = [r for r in self.caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
        ours = [
            r
            for r in self.caplog.records
            if r.name.startswith("asgi_compress") and r.levelno > logging.DEBUG
        ]
        assert ours == [], [r.getMessage() for r in ours]


@pytest.fixture
def aftermath(caplog: pytest.LogCaptureFixture) -> Aftermath:
    return Aftermath(caplog)


async def _receive_request() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def wait_until(condition: Callable[[], bool], within: float = 5) -> None:
    """Poll: the conditions are set by worker threads or read from their stacks."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 - nothing to await on for a thread's state
            await anyio.sleep(0.002)


# -- an encoder that holds its worker thread until released --------------------------------


class Gate:
    """Holds encoder calls made off the event loop's thread until ``release`` is set."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.calls: list[tuple[str, float, float]] = []  # (verb, started, ended)


class GatedEncoder:
    """Wraps a real encoder; records every call, and blocks the ones on worker threads."""

    encoding: ClassVar[str] = "gated"

    def __init__(self, inner: Encoder, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    def _call(self, verb: str, chunk: bytes) -> bytes:
        gate = self._gate
        with gate.lock:
            gate.active += 1
        started = time.monotonic()
        try:
            if threading.get_ident() != gate.loop_thread:
                gate.entered.set()
                assert gate.release.wait(timeout=10), "gate never released"
            result: bytes = getattr(self._inner, verb)(chunk)
            return result
        finally:
            with gate.lock:
                gate.active -= 1
                gate.calls.append((verb, started, time.monotonic()))

    def compress(self, chunk: bytes) -> bytes:
        return self._call("compress", chunk)

    def flush(self, chunk: bytes = b"") -> bytes:
        return self._call("flush", chunk)

    def finish(self, chunk: bytes = b"") -> bytes:
        return self._call("finish", chunk)


def install_gate(middleware: CompressMiddleware, gate: Gate) -> None:
    """Wrap every encoder the middleware makes (the factories live in its Settings)."""

    def wrap(factory: Callable[[], Encoder]) -> Callable[[], Encoder]:
        return lambda: GatedEncoder(factory(), gate)

    settings = middleware.settings
    wrapped = {token: wrap(factory) for token, factory in settings.encoders.items()}
    # Settings derive their encoders in __post_init__ (so replace() cannot leave stale ones);
    # this harness swaps them on a copy, deliberately.
    gated = dataclasses.replace(settings)
    object.__setattr__(gated, "encoders", wrapped)
    middleware.settings = gated


# -- the client goes away ------------------------------------------------------------------


def streaming_app(chunk: bytes, seen: list[BaseException], count: int = 6) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(start())
            for _ in range(count):
                await send(body(chunk, more=True))
            await send(body())
        except BaseException as exc:
            seen.append(exc)
            raise

    return app


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("fail_at", [0, 1, 2, 4], ids=lambda n: f"message{n}")
@pytest.mark.parametrize("size", ["small", "threaded"])
async def test_send_oserror_reaches_the_app_unchanged(
    coding: str, fail_at: int, size: str, aftermath: Aftermath
) -> None:
    error = OSError(errno.EPIPE, "client went away")
    delivered: list[Message] = []

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        if len(delivered) == fail_at:
            raise error
        delivered.append(message)

    seen: list[BaseException] = []
    chunk = BIG if size == "threaded" else text(3000)
    middleware = CompressMiddleware(
        streaming_app(chunk, seen), thread_min_size=THREAD_MIN, flush_delay=0
    )
    with anyio.fail_after(10), pytest.raises(OSError) as excinfo:
        await middleware(make_scope(accept_encoding=coding), _receive_request, server_send)
    assert excinfo.value is error
    assert seen == [error]
    # What did get out is a valid prefix of the encoded stream.
    if fail_at > 1:
        assert dict(delivered[0]["headers"])[b"content-encoding"] == coding.encode()
        prefix = Decoder(coding).feed(b"".join(m["body"] for m in delivered[1:]))
        assert prefix == chunk * (fail_at - 1)
    # The test's own references keep the traceback, and with it the request's frames.
    error.__traceback__ = None
    del excinfo, seen
    aftermath.check()


class Chunks:
    """``count`` copies of ``chunk``. Not an async generator: a cancelled one is finalized by
    the garbage collector later, outside the test, where its complaints cannot be told apart."""

    def __init__(self, count: int, chunk: bytes) -> None:
        self.left = count
        self.chunk = chunk

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        await anyio.lowlevel.checkpoint()
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        return self.chunk


def starlette_stream(chunks: int, chunk: bytes) -> StreamingResponse:
    return StreamingResponse(Chunks(chunks, chunk), media_type="text/plain")


async def _outcome(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> type[Exception] | None:
    """The exception type the app ends with (None if it returns)."""
    try:
        with anyio.fail_after(10):
            await app(scope, receive, send)
    except Exception as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("after", [0, 1, 3], ids=lambda n: f"after{n}")
@pytest.mark.parametrize("size", ["small", "threaded"])
async def test_http_disconnect_ends_a_starlette_stream_as_without_us(
    coding: str, after: int, size: str, aftermath: Aftermath
) -> None:
    """ASGI 2.3: the app learns of the disconnect from receive() and cancels its stream."""
    chunk = BIG if size == "threaded" else text(3000)

    async def scenario(wrap: bool) -> tuple[type[Exception] | None, int]:
        delivered: list[Message] = []
        enough = anyio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await enough.wait()
            return {"type": "http.disconnect"}

        async def server_send(message: Message) -> None:
            await anyio.lowlevel.checkpoint()
            if enough.is_set():
                return  # uvicorn drops what is sent after a disconnect
            delivered.append(message)
            if len(delivered) > after:
                enough.set()

        app: ASGIApp = starlette_stream(1000, chunk)
        if wrap:
            app = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
        scope = make_scope(accept_encoding=coding)
        scope["asgi"]["spec_version"] = "2.3"
        return await _outcome(app, scope, receive, server_send), len(delivered)

    plain, _ = await scenario(wrap=False)
    ours, delivered = await scenario(wrap=True)
    assert ours is plain is None
    assert delivered <= after + 1
    aftermath.check()


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("size", ["small", "threaded"])
async def test_oserror_becomes_client_disconnect_in_starlette_as_without_us(
    coding: str, size: str, aftermath: Aftermath
) -> None:
    """ASGI 2.4: send() raises OSError; Starlette turns it into ClientDisconnect."""
    chunk = BIG if size == "threaded" else text(3000)

    async def scenario(wrap: bool) -> type[Exception] | None:
        sent = 0

        async def server_send(message: Message) -> None:
            nonlocal sent
            await anyio.lowlevel.checkpoint()
            sent += 1
            if sent > 3:
                raise OSError(errno.ECONNRESET, "connection reset by peer")

        app: ASGIApp = starlette_stream(1000, chunk)
        if wrap:
            app = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
        return await _outcome(
            app, make_scope(accept_encoding=coding), _receive_request, server_send
        )

    assert await scenario(wrap=False) is ClientDisconnect
    assert await scenario(wrap=True) is ClientDisconnect
    aftermath.check()


# -- the app fails -------------------------------------------------------------------------

RAISING_APPS: dict[str, list[Message]] = {
    "before-start": [],
    "after-start": [start()],
    "after-first-body": [start(), body(BIG[:3000], more=True)],
    "between-bodies": [start(), body(BIG[:3000], more=True), body(BIG[:3000], more=True)],
    "after-threaded-body": [start(), body(BIG, more=True)],
    "after-whole-body": [start(content_length=len(BIG)), body(BIG, more=True)],
    "after-final-body": [start(), body(BIG)],
    "sse-after-event": [start(content_type="text/event-stream"), body(b"data: 1\n\n", more=True)],
}


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("where", list(RAISING_APPS))
async def test_app_exception_propagates_unchanged(
    coding: str, where: str, aftermath: Aftermath
) -> None:
    error = AppError(where)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in RAISING_APPS[where]:
            await send(dict(message))
        raise error

    delivered: list[Message] = []

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        delivered.append(message)

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    with anyio.fail_after(10), pytest.raises(AppError) as excinfo:
        await middleware(make_scope(accept_encoding=coding), _receive_request, server_send)
    assert excinfo.value is error
    assert excinfo.value.__cause__ is None and excinfo.value.__context__ is None
    # What went out is a well-formed prefix: at most one start, and it comes first.
    assert [m["type"] for m in delivered[:1]] in ([], ["http.response.start"])
    assert all(m["type"] == "http.response.body" for m in delivered[1:])
    error.__traceback__ = None
    del excinfo
    aftermath.check()


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
@pytest.mark.parametrize(
    "head",
    [
        pytest.param(start(), id="held"),
        pytest.param(start(content_length=len(BIG)), id="held-with-length"),
        pytest.param(start(content_type="text/event-stream"), id="sse"),
        pytest.param(start(content_type="image/png"), id="passing"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_start_without_body_returns_and_sends_no_body(
    coding: str, head: Message, method: str, aftermath: Aftermath
) -> None:
    delivered: list[Message] = []

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        delivered.append(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(dict(head))

    middleware = CompressMiddleware(app, flush_delay=0)
    with anyio.fail_after(5):
        await middleware(
            make_scope(method=method, accept_encoding=coding), _receive_request, server_send
        )
    assert [m["type"] for m in delivered] in ([], ["http.response.start"])
    aftermath.check()


# -- cancellation while a chunk is in a worker thread --------------------------------------


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([start(), body(BIG, more=True), body()], id="first-chunk"),
        pytest.param([start(), body(b"x" * 100, more=True), body(BIG, more=True)], id="stream"),
        pytest.param([start(), body(BIG)], id="one-shot"),
        pytest.param([start(), body(b"x" * 100, more=True), body(BIG)], id="final-chunk"),
    ],
)
async def test_cancelled_request_waits_for_its_thread_then_unwinds(
    messages: list[Message], aftermath: Aftermath
) -> None:
    gate = Gate()
    sent_by_app: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(dict(message))
            sent_by_app.append(1)
        await anyio.sleep_forever()  # cancellation must reach us here at the latest

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    install_gate(middleware, gate)
    request_scope = anyio.CancelScope()
    done = anyio.Event()
    ended_at = 0.0
    active_at_end = -1

    async def request() -> None:
        nonlocal ended_at, active_at_end
        try:
            with request_scope:
                await middleware(make_scope(accept_encoding="gzip"), _receive_request, server_send)
        finally:
            ended_at = time.monotonic()
            active_at_end = gate.active
            done.set()

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(request)
                await wait_until(gate.entered.is_set)
                request_scope.cancel()
                await anyio.sleep(0.2)
                # The wait for the thread is shielded: the request cannot end while its
                # encoder is still in use on another thread.
                assert not done.is_set(), "the request ended with its encoder still in a thread"
                gate.release.set()
                await done.wait()
    finally:
        gate.release.set()  # never leave a thread parked on the gate
    assert request_scope.cancelled_caught
    assert active_at_end == 0
    assert all(ended <= ended_at for _, _, ended in gate.calls)
    assert busy_compression_threads() == []
    aftermath.check()


@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_cancelled_request_leaves_no_thread_and_the_next_request_works(
    coding: str, aftermath: Aftermath
) -> None:
    """The same, seen from outside only: a real slow chunk (br/zstd at their top levels)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        payload = SLOW if scope["path"] == "/slow" else BIG
        await send(start())
        await send(body(payload, more=True))
        await send(body())

    delivered: list[Message] = []

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        delivered.append(message)

    middleware = CompressMiddleware(
        app, br_level=11, zstd_level=19, thread_min_size=THREAD_MIN, flush_delay=0
    )
    with anyio.fail_after(20):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    middleware,
                    make_scope(path="/slow", accept_encoding=coding),
                    _receive_request,
                    server_send,
                )
                await wait_until(lambda: bool(busy_compression_threads()))
                scope.cancel()
        assert scope.cancelled_caught
        # Right away, not eventually: the request unwound only after its thread finished.
        assert busy_compression_threads() == []

        delivered.clear()
        await middleware(make_scope(accept_encoding=coding), _receive_request, server_send)
    head, *bodies = delivered
    assert dict(head["headers"])[b"content-encoding"] == coding.encode()
    assert decode(coding, b"".join(m["body"] for m in bodies)) == BIG
    aftermath.check()


async def test_many_cancelled_requests_do_not_grow_the_threads(aftermath: Aftermath) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        while True:
            await send(body(BIG, more=True))

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    with anyio.fail_after(30):
        for round_ in range(5):
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    for i in range(16):
                        coding = ENCODINGS[(round_ + i) % len(ENCODINGS)]
                        tg.start_soon(
                            middleware,
                            make_scope(accept_encoding=coding),
                            _receive_request,
                            server_send,
                        )
                    await wait_until(lambda: bool(busy_compression_threads()))
                    await anyio.sleep(0.05)
                    scope.cancel()
            assert busy_compression_threads() == []
            assert threading.active_count() <= aftermath.threads + _cpu_count()
    aftermath.check()


# -- overlapping send() calls --------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "threaded"),
    [
        pytest.param([start()], body(BIG, more=True), id="first-chunk"),
        pytest.param([start(), body(b"x" * 100, more=True)], body(BIG, more=True), id="stream"),
        pytest.param([start()], body(BIG), id="one-shot"),
    ],
)
async def test_overlapping_send_raises_runtime_error(
    before: list[Message], threaded: Message, aftermath: Aftermath
) -> None:
    gate = Gate()
    overlap: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in before:
            await send(dict(message))

        async def send_threaded() -> None:
            await send(dict(threaded))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_threaded)
            await wait_until(gate.entered.is_set)
            try:
                await send(body(b"late", more=True))
            except RuntimeError as exc:
                overlap.append(exc)
            gate.release.set()
        if threaded["more_body"]:
            await send(body())

    delivered: list[Message] = []

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()
        delivered.append(message)

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    install_gate(middleware, gate)
    try:
        with anyio.fail_after(10):
            await middleware(make_scope(accept_encoding="br"), _receive_request, server_send)
    finally:
        gate.release.set()  # never leave a thread parked on the gate
    assert len(overlap) == 1
    assert "overlap" in str(overlap[0])
    # The refused message left no trace: the response is the app's other messages.
    head, *bodies = delivered
    expected = b"".join(m.get("body", b"") for m in [*before[1:], threaded])
    assert decode("br", b"".join(m["body"] for m in bodies)) == expected
    overlap[0].__traceback__ = None  # it holds the request's frames
    aftermath.check()


async def test_overlapping_send_with_a_real_slow_chunk(aftermath: Aftermath) -> None:
    overlap: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())

        async def send_slow() -> None:
            await send(body(SLOW, more=True))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_slow)
            await wait_until(lambda: bool(busy_compression_threads()))
            with pytest.raises(RuntimeError) as excinfo:
                await send(body(b"late", more=True))
            overlap.append(excinfo.value)
        await send(body())

    async def server_send(message: Message) -> None:
        await anyio.lowlevel.checkpoint()

    middleware = CompressMiddleware(app, br_level=11, thread_min_size=THREAD_MIN, flush_delay=0)
    with anyio.fail_after(20):
        await middleware(make_scope(accept_encoding="br"), _receive_request, server_send)
    assert len(overlap) == 1
    assert "overlap" in str(overlap[0])
    overlap[0].__traceback__ = None  # it holds the request's frames
    aftermath.check()


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    """Whatever a test did, no thread may still be compressing once it is over."""
    yield
    deadline = time.monotonic() + 5
    while busy_compression_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert busy_compression_threads() == []
