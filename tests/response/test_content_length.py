"""A Content-Length the app declares: kept when the body passes, enforced when it streams,
ignored when it is absurd (RFC 9112 section 6.3)."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send
from tests.harness import Client, app_sending, body, decode, run, start, text


def lying_app(declared: int, chunks: list[bytes], *, final: bool) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_length=declared))
        for chunk in chunks:
            await send(body(chunk, more=True))
        if final:
            await send(body())

    return app


async def test_a_short_body_collected_whole_passes_for_the_server_to_see() -> None:
    """The app declares 100,000 bytes and sends 20,000 (a dead upstream). Held whole, the
    body goes out unencoded under the app's own Content-Length, so the server ends the
    message as incomplete, as it would without us (curl: error 18)."""
    chunks = [text(10_000), text(10_000, seed=1)]
    rec = await run(
        CompressMiddleware(lying_app(100_000, chunks, final=True)), accept_encoding="gzip"
    )
    assert "content-encoding" not in rec.headers
    assert rec.headers["content-length"] == "100000"
    assert rec.body == b"".join(chunks)


@pytest.mark.parametrize(
    ("declared", "sizes"),
    [pytest.param(100_000, [10_000, 10_000], id="short"), pytest.param(600, [500, 500], id="long")],
)
async def test_a_streamed_body_that_contradicts_its_length_is_an_error(
    declared: int, sizes: list[int]
) -> None:
    """Streamed, the encoded head is out: ending the stream cleanly would hide the app's
    error. The app's send raises instead, and no final message is sent."""
    chunks = [text(size, seed=i) for i, size in enumerate(sizes)]
    client = Client()
    with pytest.raises(RuntimeError, match="Content-Length|declared"):
        await run(
            CompressMiddleware(lying_app(declared, chunks, final=True), flush_delay=0, min_size=0),
            client=client,
            accept_encoding="gzip",
        )
    assert client.recorded.headers["content-encoding"] == "gzip"
    assert all(m.get("more_body") for m in client.recorded.bodies)


async def test_an_absurd_content_length_is_ignored() -> None:
    page = text(5000)
    msgs = [start(headers=[("content-length", "9" * 5000)]), body(page)]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    assert decode("gzip", rec.body) == page
