"""Streams: each body message is encoded and flushed so the client decodes it on arrival."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from tests.harness import (
    ENCODINGS,
    Decoder,
    app_sending,
    body,
    decode,
    make_scope,
    run,
    start,
    text,
)

CHUNKS = [text(4096, seed=i) for i in range(6)] + [b"", text(10, seed=99), text(300_000, seed=7)]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_each_message_decodes_to_what_the_app_sent_on_arrival(encoding: str) -> None:
    sent = list(CHUNKS)
    msgs = [start(), *(body(c, more=True) for c in sent), body(b"tail")]
    decoder = Decoder(encoding)
    decoded: list[bytes] = []

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            decoded.append(decoder.feed(message["body"]))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for m in msgs:
            await send(m)

    rec = await run(
        CompressMiddleware(app, flush_delay=0), on_send=on_send, accept_encoding=encoding
    )
    assert rec.headers["content-encoding"] == encoding
    assert "content-length" not in rec.headers
    # The empty continuation produced no write; every other message decodes to itself.
    non_empty = [c for c in sent if c] + [b"tail"]
    assert decoded == non_empty
    assert [m["more_body"] for m in rec.bodies] == [True] * (len(non_empty) - 1) + [False]
    assert decoder.eof


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_sse_head_goes_out_before_the_first_event(encoding: str) -> None:
    """Headers never wait for the first event; each event is readable when sent."""
    events = [b"data: %d %s\n\n" % (i, b"x" * 50) for i in range(5)]
    seen_before_first_event: list[str] = []
    decoder = Decoder(encoding)
    arrivals: list[bytes] = []
    recorded: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type="text/event-stream"))
        seen_before_first_event.extend(m["type"] for m in recorded)
        for event in events:
            await anyio.lowlevel.checkpoint()
            await send(body(event, more=True))
        await send(body(b""))

    def on_send(message: Message) -> None:
        recorded.append(message)
        if message["type"] == "http.response.body" and message["body"]:
            arrivals.append(decoder.feed(message["body"]))

    rec = await run(
        CompressMiddleware(app, flush_delay=0), on_send=on_send, accept_encoding=encoding
    )
    assert seen_before_first_event == ["http.response.start"]
    assert rec.headers["content-encoding"] == encoding
    assert arrivals[: len(events)] == events
    assert decoder.eof


async def test_stream_with_small_first_chunk_is_still_a_stream() -> None:
    """No Content-Length: a stream is compressed whatever the size of its pieces."""
    msgs = [start(), body(b"a", True), body(b"b")]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for m in msgs:
            await send(m)

    rec = await run(CompressMiddleware(app, flush_delay=0), accept_encoding="gzip")
    assert rec.headers["content-encoding"] == "gzip"
    assert rec.decoded() == b"ab"


async def test_head_follows_get_where_the_head_tells_it() -> None:
    """Issue 8 defect 6: a HEAD is encoded exactly when GET's Content-Length says GET's body
    would be (>= min_size); without one it is answered unencoded. Bodies an app sends with
    a HEAD pass to the server (which drops them), as without us."""

    def app_for(length: int | None) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await send(start(content_length=length))
            await send(body(text(5000)))

        return app

    for length, encoded in ((None, False), (5000, True), (400, False)):
        middleware = CompressMiddleware(app_for(length))
        head = await run(middleware, make_scope(method="HEAD", accept_encoding="br"))
        get = await run(middleware, make_scope(accept_encoding="br"))
        assert ("content-encoding" in head.headers) is encoded
        if length is not None:
            assert ("content-encoding" in get.headers) is encoded
        if encoded:
            assert head.body == b"" and "content-length" not in head.headers
            assert [m["more_body"] for m in head.bodies] == [False]


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_pathsend_after_an_event_stream_head(coding: str, tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    page = text(5000)
    path.write_bytes(page)
    msgs = [
        start(content_type="text/event-stream"),
        {"type": "http.response.pathsend", "path": str(path)},
    ]
    scope = make_scope(accept_encoding=coding, extensions={"http.response.pathsend": {}})
    rec = await run(CompressMiddleware(app_sending(msgs)), scope)
    assert rec.headers["content-encoding"] == coding
    assert decode(coding, rec.body) == page
