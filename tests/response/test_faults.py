"""Faults: clients that go away, apps that raise, requests cancelled mid-compression.

Every test checks the same aftermath: the exception the app or the server raised comes out
unchanged (the same object), nothing hangs (``anyio.fail_after``), no encoder outlives its
request, no worker thread is still compressing, and nothing is logged at ERROR.
"""

from __future__ import annotations

import errno
import logging
import os
import random
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from starlette.responses import StreamingResponse

from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from tests.harness import (
    ENCODINGS,
    Client,
    Decoder,
    app_sending,
    body,
    decode,
    make_scope,
    run,
    start,
    text,
)
from tests.harness.tracked import EncoderTracker

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


class AppError(Exception):
    """Raised by the test apps."""


# -- aftermath checks ----------------------------------------------------------------------


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Aftermath:
    """Baselines taken before a scenario, and the checks after it."""

    def __init__(self, caplog: pytest.LogCaptureFixture, encoders: EncoderTracker) -> None:
        caplog.set_level(logging.DEBUG)
        self.caplog = caplog
        self.encoders = encoders

    def check(self) -> None:
        assert self.encoders.running == 0, "a worker thread is still compressing"
        assert self.encoders.live() == 0, "an encoder outlived its request"
        # Our limiter's capacity (one compressing thread per CPU) bounds the codec calls in
        # progress at once. Not the threads alive: the backend's pool keeps idle ones and may
        # start another while a finished one is on its way back to the pool.
        assert self.encoders.peak_off_loop <= _cpu_count()
        errors = [r for r in self.caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
        ours = [
            r
            for r in self.caplog.records
            if r.name.startswith("asgi_compress") and r.levelno > logging.DEBUG
        ]
        assert ours == [], [r.getMessage() for r in ours]


@pytest.fixture
def aftermath(caplog: pytest.LogCaptureFixture, encoders: EncoderTracker) -> Aftermath:
    return Aftermath(caplog, encoders)


async def wait_until(condition: Callable[[], bool], within: float = 5) -> None:
    """Poll: the conditions are counters that worker threads update."""
    with anyio.fail_after(within):
        while not condition():  # noqa: ASYNC110 - nothing to await on for a thread's state
            await anyio.sleep(0.002)


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
    client = Client(yields=True, fail_at=fail_at, error=error)
    seen: list[BaseException] = []
    chunk = BIG if size == "threaded" else text(3000)
    middleware = CompressMiddleware(
        streaming_app(chunk, seen), thread_min_size=THREAD_MIN, flush_delay=0
    )
    with pytest.raises(OSError) as excinfo:
        await run(middleware, client=client, accept_encoding=coding, deadline=10)
    delivered = client.delivered
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


async def _outcome(app: ASGIApp, scope: Scope, client: Client) -> type[Exception] | None:
    """The exception type the app ends with (None if it returns)."""
    try:
        await run(app, scope, client=client, deadline=10)
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
        # The client leaves once after + 1 messages are out; uvicorn drops the later ones.
        client = Client(yields=True, leave_after=after + 1)
        app: ASGIApp = starlette_stream(1000, chunk)
        if wrap:
            app = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
        scope = make_scope(accept_encoding=coding)
        scope["asgi"]["spec_version"] = "2.3"
        return await _outcome(app, scope, client), len(client.delivered)

    plain, _ = await scenario(wrap=False)
    ours, delivered = await scenario(wrap=True)
    assert ours is plain is None
    assert delivered <= after + 1
    aftermath.check()


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("size", ["small", "threaded"])
async def test_oserror_from_send_ends_a_starlette_stream_as_without_us(
    coding: str, size: str, aftermath: Aftermath
) -> None:
    """ASGI 2.4: send() raises OSError. What the app then raises is Starlette's choice (recent
    releases: ClientDisconnect; 0.40, the extra's floor: an ExceptionGroup): the same with us."""
    chunk = BIG if size == "threaded" else text(3000)

    async def scenario(wrap: bool) -> type[Exception] | None:
        error = OSError(errno.ECONNRESET, "connection reset by peer")
        client = Client(yields=True, fail_at=3, error=error)
        app: ASGIApp = starlette_stream(1000, chunk)
        if wrap:
            app = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
        return await _outcome(app, make_scope(accept_encoding=coding), client)

    plain = await scenario(wrap=False)
    assert plain is not None
    assert await scenario(wrap=True) is plain
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

    client = Client(yields=True)
    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    with pytest.raises(AppError) as excinfo:
        await run(middleware, client=client, accept_encoding=coding, deadline=10)
    delivered = client.delivered
    assert excinfo.value is error
    assert excinfo.value.__cause__ is None and excinfo.value.__context__ is None
    # What went out is a well-formed prefix: at most one start, and it comes first.
    assert [m["type"] for m in delivered[:1]] in ([], ["http.response.start"])
    assert all(m["type"] == "http.response.body" for m in delivered[1:])
    error.__traceback__ = None
    del excinfo
    aftermath.check()


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("size", ["small", "threaded"])
async def test_a_kept_traceback_does_not_keep_the_encoder(
    coding: str, size: str, aftermath: Aftermath
) -> None:
    """The request's frames may outlive it: in an exception an error reporter keeps, or (on
    Python 3.12+) in the task step still handling a disconnect's CancelledError. Its encoder
    must not live as long as they do."""
    error = AppError("after a streamed body")
    chunk = BIG if size == "threaded" else text(3000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(chunk, more=True))
        raise error

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    with pytest.raises(AppError) as excinfo:
        await run(middleware, client=Client(yields=True), accept_encoding=coding, deadline=10)
    assert excinfo.value is error and error.__traceback__ is not None
    aftermath.check()  # the traceback, and the frames in it, are still referenced here


HELD_HEADS = [start()["headers"], start(content_length=len(BIG))["headers"]]


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
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(dict(head))

    client = Client(yields=True)
    await run(
        CompressMiddleware(app, flush_delay=0), client=client, method=method, accept_encoding=coding
    )
    # A held GET head waits for a body that never comes: nothing goes out, and the server
    # answers 500 as for an app that never started. A HEAD's head needs no body (it follows
    # GET's decision from the head alone), and the others were never held: they go out.
    held_for_a_body = method == "GET" and head["headers"] in HELD_HEADS
    expected = [] if held_for_a_body else ["http.response.start"]
    assert [m["type"] for m in client.delivered] == expected
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
    messages: list[Message], encoders: EncoderTracker, aftermath: Aftermath
) -> None:
    encoders.hold = True
    sent_by_app: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(dict(message))
            sent_by_app.append(1)
        await anyio.sleep_forever()  # cancellation must reach us here at the latest

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    request_scope = anyio.CancelScope()
    done = anyio.Event()
    ended_at = -1
    running_at_end = -1

    async def request() -> None:
        nonlocal ended_at, running_at_end
        try:
            with request_scope:
                await run(middleware, client=Client(yields=True), accept_encoding="gzip")
        finally:
            ended_at = encoders.stamp()
            running_at_end = encoders.running
            done.set()

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(request)
                await wait_until(encoders.entered.is_set)
                request_scope.cancel()
                # Every other task has run as far as it can: the cancelled request either
                # ended or waits, shielded, for its thread.
                await anyio.wait_all_tasks_blocked()
                assert not done.is_set(), "the request ended with its encoder still in a thread"
                encoders.release.set()
                await done.wait()
    finally:
        encoders.release.set()  # never leave a thread parked
    assert request_scope.cancelled_caught
    assert running_at_end == 0
    assert encoders.call_ends and all(ended < ended_at for ended in encoders.call_ends)
    aftermath.check()


@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_cancelled_request_leaves_no_thread_and_the_next_request_works(
    coding: str, encoders: EncoderTracker, aftermath: Aftermath
) -> None:
    """The same, seen from outside only: a real slow chunk (br/zstd at their top levels)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        payload = SLOW if scope["path"] == "/slow" else BIG
        await send(start())
        await send(body(payload, more=True))
        await send(body())

    middleware = CompressMiddleware(
        app, br_level=11, zstd_level=19, thread_min_size=THREAD_MIN, flush_delay=0
    )
    slow = make_scope(path="/slow", accept_encoding=coding)
    with anyio.fail_after(20):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(run, middleware, slow, client=Client(yields=True)))
                await wait_until(lambda: encoders.running_off_loop > 0)
                scope.cancel()
        assert scope.cancelled_caught
        # Right away, not eventually: the request unwound only after its thread finished.
        assert encoders.running == 0

        client = Client(yields=True)
        await run(middleware, client=client, accept_encoding=coding)
    head, *bodies = client.delivered
    assert dict(head["headers"])[b"content-encoding"] == coding.encode()
    assert decode(coding, b"".join(m["body"] for m in bodies)) == BIG
    aftermath.check()


async def test_many_cancelled_requests_do_not_grow_the_threads(
    encoders: EncoderTracker, aftermath: Aftermath
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        while True:
            await send(body(BIG, more=True))

    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    encoders.hold = True  # each round is cancelled while a call is parked on a thread
    with anyio.fail_after(30):
        for round_ in range(5):
            encoders.entered.clear()
            encoders.release.clear()
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    for i in range(16):
                        coding = ENCODINGS[(round_ + i) % len(ENCODINGS)]
                        request = make_scope(accept_encoding=coding)
                        client = Client(yields=True)
                        tg.start_soon(partial(run, middleware, request, client=client))
                    await anyio.to_thread.run_sync(encoders.entered.wait)
                    scope.cancel()
                    encoders.release.set()
            assert encoders.running == 0
    assert encoders.peak_off_loop > 0
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
    before: list[Message], threaded: Message, encoders: EncoderTracker, aftermath: Aftermath
) -> None:
    encoders.hold = True
    overlap: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in before:
            await send(dict(message))

        async def send_threaded() -> None:
            await send(dict(threaded))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_threaded)
            await wait_until(encoders.entered.is_set)
            try:
                await send(body(b"late", more=True))
            except RuntimeError as exc:
                overlap.append(exc)
            encoders.release.set()
        if threaded["more_body"]:
            await send(body())

    client = Client(yields=True)
    middleware = CompressMiddleware(app, thread_min_size=THREAD_MIN, flush_delay=0)
    try:
        await run(middleware, client=client, accept_encoding="br", deadline=10)
    finally:
        encoders.release.set()  # never leave a thread parked
    delivered = client.delivered
    assert len(overlap) == 1
    assert "overlap" in str(overlap[0])
    # The refused message left no trace: the response is the app's other messages.
    head, *bodies = delivered
    expected = b"".join(m.get("body", b"") for m in [*before[1:], threaded])
    assert decode("br", b"".join(m["body"] for m in bodies)) == expected
    overlap[0].__traceback__ = None  # it holds the request's frames
    aftermath.check()


async def test_overlapping_send_with_a_real_slow_chunk(
    encoders: EncoderTracker, aftermath: Aftermath
) -> None:
    overlap: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())

        async def send_slow() -> None:
            await send(body(SLOW, more=True))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_slow)
            await wait_until(lambda: encoders.running_off_loop > 0)
            with pytest.raises(RuntimeError) as excinfo:
                await send(body(b"late", more=True))
            overlap.append(excinfo.value)
        await send(body())

    middleware = CompressMiddleware(app, br_level=11, thread_min_size=THREAD_MIN, flush_delay=0)
    await run(middleware, client=Client(yields=True), accept_encoding="br", deadline=20)
    assert len(overlap) == 1
    assert "overlap" in str(overlap[0])
    overlap[0].__traceback__ = None  # it holds the request's frames
    aftermath.check()


async def test_overlapping_send_while_the_server_sends_is_refused() -> None:
    """An app whose two tasks call send at once breaks the ASGI contract; we say so when the
    first send is still in the server's own send, as when it is in a codec thread (above)."""
    entered, release = anyio.Event(), anyio.Event()

    async def slow_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            entered.set()
            await release.wait()

    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        async with anyio.create_task_group() as tg:

            async def second() -> None:
                await entered.wait()
                try:
                    await send(body(b"x", more=True))
                except RuntimeError as error:
                    errors.append(error)
                release.set()

            tg.start_soon(second)
            await send(body(text(5000)))

    await run(CompressMiddleware(app), send=slow_send, accept_encoding="gzip")
    assert errors and "must not overlap" in str(errors[0])


async def test_a_missing_file_fails_the_app_before_any_byte(tmp_path: Path) -> None:
    msgs = [start(), {"type": "http.response.pathsend", "path": str(tmp_path / "gone.txt")}]
    scope = make_scope(accept_encoding="gzip", extensions={"http.response.pathsend": {}})
    client = Client()
    with pytest.raises(FileNotFoundError):
        await run(CompressMiddleware(app_sending(msgs)), scope, client=client)
    assert client.delivered == []  # no head labelled Content-Encoding for a body that never came
