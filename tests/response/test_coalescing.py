"""Streams compress like whole bodies and still arrive live (issue 10).

Messages sent back to back are coalesced (no flush between them); what the app sent becomes
decodable when it pauses, at 256 KiB unflushed, and at the end. Nothing here measures time:
a pause is the app waiting for the client to have decoded what it sent (if nothing flushed,
the test would hang until its deadline), and "back to back" uses a flush delay far longer
than any test runs.
"""

from __future__ import annotations

import asyncio
import sys

import anyio
import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from tests.harness import ENCODINGS, Client, Decoder, body, decode, run, start, text

NEVER = 1.0  # the longest flush delay: no test waits that long between two messages
PAUSE = 0.001  # short: a test that pauses waits on an event, not on this
STEADY_DELAY = 0.05  # a delay the steady app's filler never lets pass between two messages
PAUSE_SHORTER = 0.002  # pacing only: a slower machine only makes the test easier


def rows(count: int) -> list[bytes]:
    """A CSV export, one row per message, as Starlette's StreamingResponse sends it."""
    return [
        b"%d,user%d,user%d@example.com,%d,active\n" % (i, i, i, i * 37 % 1000) for i in range(count)
    ]


def streaming(messages: list[bytes], *, content_type: str = "text/csv") -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type=content_type))
        for chunk in messages:
            await send(body(chunk, more=True))
        await send(body())

    return app


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_back_to_back_messages_compress_like_one_body(coding: str) -> None:
    """2,000 rows, one per message: within 1.15x of the body compressed whole (the target of
    benchmarks/streams_flush.py), where a flush per message costs several times that."""
    export = rows(2000)
    whole = await run(CompressMiddleware(streaming([b"".join(export)])), accept_encoding=coding)
    coalesced = await run(
        CompressMiddleware(streaming(export), flush_delay=NEVER), accept_encoding=coding
    )
    per_message = await run(
        CompressMiddleware(streaming(export), flush_delay=0), accept_encoding=coding
    )
    for rec in (whole, coalesced, per_message):
        assert decode(coding, rec.body) == b"".join(export)
    assert len(coalesced.body) <= 1.15 * len(whole.body)
    assert len(per_message.body) > 1.5 * len(coalesced.body)


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_what_the_app_sent_is_decodable_once_it_pauses(coding: str) -> None:
    """A token stream: after each token the app waits until the client has decoded it."""
    tokens = [b"token %d is here; " % i for i in range(12)]
    decoder = Decoder(coding)
    decoded = bytearray()
    seen = [anyio.Event() for _ in tokens]

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            decoded.extend(decoder.feed(message["body"]))
            for index in range(len(tokens)):
                if decoded.startswith(b"".join(tokens[: index + 1])):
                    seen[index].set()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        for index, token in enumerate(tokens):
            await send(body(token, more=True))
            await seen[index].wait()  # the pause: only a flush on pause ends it
        await send(body())

    rec = await run(
        CompressMiddleware(app, flush_delay=PAUSE, min_size=0), on_send=on_send,
        accept_encoding=coding, deadline=20,
    )  # fmt: skip
    assert rec.headers["content-encoding"] == coding
    assert "content-length" not in rec.headers
    assert bytes(decoded) == b"".join(tokens)
    assert decoder.eof


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_an_app_that_never_pauses_long_still_gets_its_bytes_flushed(coding: str) -> None:
    """A token every few milliseconds under a longer flush_delay: the deadline counts from
    the oldest unflushed byte, not the newest, so each token becomes decodable while the app
    keeps sending filler more often than the delay (a countdown restarted by every message
    would flush nothing until 256 KiB: this test would then hang until its deadline)."""
    tokens = [b"token %d; " % i for i in range(6)]
    decoder = Decoder(coding)
    decoded = bytearray()

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            decoded.extend(decoder.feed(message["body"]))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        for token in tokens:
            await send(body(token, more=True))
            while token not in decoded:  # keep sending, never pausing as long as the delay
                await send(body(b".", more=True))
                await anyio.sleep(PAUSE_SHORTER)
        await send(body())

    rec = await run(
        CompressMiddleware(app, flush_delay=STEADY_DELAY, min_size=0), on_send=on_send,
        accept_encoding=coding, deadline=30,
    )  # fmt: skip
    assert rec.headers["content-encoding"] == coding
    assert all(token in decoded for token in tokens)


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_the_head_goes_out_when_the_app_pauses_before_its_first_body(coding: str) -> None:
    """An LLM-style stream: the headers reach the client before the first token exists."""
    head_sent = anyio.Event()

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            head_sent.set()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await head_sent.wait()  # would hang if the head waited for the first body
        await send(body(text(2000), more=True))
        await send(body(text(2000, seed=1)))

    rec = await run(
        CompressMiddleware(app, flush_delay=PAUSE), on_send=on_send, accept_encoding=coding
    )
    assert rec.headers["content-encoding"] == coding
    assert "content-length" not in rec.headers
    assert decode(coding, rec.body) == text(2000) + text(2000, seed=1)


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_an_event_is_never_held(coding: str) -> None:
    """text/event-stream: each event is decodable when the app's send returns."""
    events = [b"data: %d %s\n\n" % (i, b"x" * i) for i in range(10)]
    decoder = Decoder(coding)
    client = Client()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type="text/event-stream"))
        for event in events:
            before = len(client.recorded.bodies)
            await send(body(event, more=True))
            arrived = b"".join(m["body"] for m in client.recorded.bodies[before:])
            assert decoder.feed(arrived) == event
        await send(body())

    await run(CompressMiddleware(app, flush_delay=NEVER), client=client, accept_encoding=coding)


@pytest.mark.parametrize(
    ("messages", "encoded"),
    [
        pytest.param([b"hello", b" world!"], False, id="12-bytes-below-min-size"),
        pytest.param([text(700), text(700, seed=1)], True, id="1400-bytes"),
        pytest.param([b"", text(3000), b""], True, id="empty-messages-around"),
    ],
)
async def test_a_stream_that_ends_before_its_first_flush_is_answered_whole(
    messages: list[bytes], encoded: bool
) -> None:
    """Issue 10: Content-Length, min_size and only-if-smaller apply (a 12-byte stream used
    to become 38 bytes of gzip)."""
    rec = await run(CompressMiddleware(streaming(messages, content_type="text/plain"),
                                       flush_delay=NEVER), accept_encoding="gzip")  # fmt: skip
    whole = b"".join(messages)
    assert rec.headers["content-length"] == str(len(rec.body))
    assert ("content-encoding" in rec.headers) is encoded
    assert rec.decoded() == whole
    if encoded:
        assert len(rec.body) < len(whole)


async def test_per_message_flushing_stays_available() -> None:
    """flush_delay=0: every message decodable on arrival, as before."""
    chunks = [text(1000, seed=i) for i in range(5)]
    decoder = Decoder("br")
    client = Client()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        for chunk in chunks:
            before = len(client.recorded.bodies)
            await send(body(chunk, more=True))
            assert (
                decoder.feed(b"".join(m["body"] for m in client.recorded.bodies[before:])) == chunk
            )
        await send(body())

    await run(CompressMiddleware(app, flush_delay=0), client=client, accept_encoding="br")


async def test_a_long_burst_is_flushed_every_256_kib() -> None:
    """Messages that never pause still reach the client: at most 256 KiB wait unflushed
    (after the first 256 KiB, held to see whether the body ends within them)."""
    chunks = [text(16 * 1024, seed=i) for i in range(64)]  # 1 MiB, back to back
    decoder = Decoder("zstd")
    client = Client()
    lag: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        sent = decoded = read = 0
        for chunk in chunks:
            await send(body(chunk, more=True))
            sent += len(chunk)
            bodies = client.recorded.bodies
            decoded += len(decoder.feed(b"".join(m["body"] for m in bodies[read:])))
            read = len(bodies)
            lag.append(sent - decoded)
        await send(body())

    rec = await run(CompressMiddleware(app, flush_delay=NEVER), client=client,
                    accept_encoding="zstd", deadline=30)  # fmt: skip
    assert rec.headers["content-encoding"] == "zstd"
    assert max(lag) <= 2 * 256 * 1024
    assert max(lag[len(lag) // 2 :]) <= 256 * 1024 + 16 * 1024


def live_tasks() -> int:
    if "trio" in sys.modules:
        import trio

        try:
            return trio.lowlevel.current_statistics().tasks_living
        except RuntimeError:
            pass
    return len(asyncio.all_tasks())


class Boom(Exception):
    pass


@pytest.mark.parametrize("ending", ["app-error", "disconnect", "cancelled", "complete"])
async def test_no_task_or_timer_outlives_a_coalesced_stream(ending: str) -> None:
    """The pause timer is one task per stream, and it ends with its response however the
    response ends: by an app exception mid-stream, a disconnect, a cancellation, or normally."""
    await anyio.wait_all_tasks_blocked()
    before = live_tasks()
    started = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(text(1000), more=True))
        await send(body(text(1000, seed=1), more=True))  # bytes wait: the timer is armed
        started.set()
        if ending == "app-error":
            raise Boom
        if ending == "disconnect":
            while (await receive())["type"] != "http.disconnect":
                pass
            await send(body(text(1000, seed=2), more=True))  # dropped: the client is gone
            return
        if ending == "cancelled":
            await anyio.sleep_forever()
        await send(body())

    middleware = CompressMiddleware(app, flush_delay=NEVER)
    client = Client(leave_after=1) if ending == "disconnect" else Client()
    if ending == "app-error":
        with pytest.raises(Boom):
            await run(middleware, client=client, accept_encoding="gzip")
    elif ending == "cancelled":
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run(middleware, client=client, accept_encoding="gzip"))
            await started.wait()
            tg.cancel_scope.cancel()
    else:
        await run(middleware, client=client, accept_encoding="gzip")
    assert started.is_set()
    await anyio.wait_all_tasks_blocked()
    assert live_tasks() == before
