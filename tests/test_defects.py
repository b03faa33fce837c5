"""Issue 8's defects, each reproduced on real messages and bytes: these failed before the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asgi_compress import CompressMiddleware, ResponsePolicy
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.policy import SCOPE_KEY

from .conftest import ENCODINGS, Client, app_sending, body, decode, make_scope, run, start, text

PAGE = text(5000)


def evaluating(msgs: list[Message], **attrs: Any) -> Any:
    """An app that asks for conditional evaluation (as the Quart extension does by default)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        policy = scope[SCOPE_KEY]
        assert isinstance(policy, ResponsePolicy)
        policy.evaluate_conditional = True
        for key, value in attrs.items():
            setattr(policy, key, value)
        for message in msgs:
            await send(dict(message))

    return app


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "condition",
    [
        ("if-none-match", "*"),
        ("if-none-match", '"v:gzip"'),
        ("if-match", '"other"'),
        ("if-modified-since", "Wed, 21 Oct 2026 07:28:00 GMT"),
    ],
    ids=["inm-star", "inm-match", "if-match-fails", "ims"],
)
async def test_1_unsafe_methods_get_the_apps_answer(
    method: str, condition: tuple[str, str]
) -> None:
    """RFC 9110 section 13.2.1: 304 only for GET/HEAD, and for other methods only the app
    knows whether it acted: a PUT whose handler returned 201 is never turned into 304/412."""
    head = start(
        status=201,
        headers=[("etag", '"v"'), ("last-modified", "Wed, 21 Oct 2026 07:28:00 GMT")],
    )
    app = CompressMiddleware(evaluating([head, body(PAGE)]))
    rec = await run(app, make_scope(method=method, headers=[condition], accept_encoding="gzip"))
    assert rec.status == 201
    assert decode("gzip", rec.body) == PAGE


async def test_2_no_trailers_after_our_own_304() -> None:
    head = start(headers=[("etag", '"v"')], trailers=True)
    trailers = {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]}
    app = CompressMiddleware(evaluating([head, body(PAGE), trailers]))
    rec = await run(
        app, make_scope(headers=[("if-none-match", '"v:gzip"')], accept_encoding="gzip")
    )
    assert rec.status == 304
    assert [m["type"] for m in rec.messages] == ["http.response.start", "http.response.body"]


async def test_3_a_missing_file_fails_the_app_before_any_byte(tmp_path: Path) -> None:
    msgs = [start(), {"type": "http.response.pathsend", "path": str(tmp_path / "gone.txt")}]
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    scope = make_scope(accept_encoding="gzip", extensions={"http.response.pathsend": {}})
    with pytest.raises(FileNotFoundError):
        await CompressMiddleware(app_sending(msgs))(scope, _request, record)
    assert sent == []  # no head labelled Content-Encoding went out for a body that never came


@pytest.mark.parametrize("coding", ENCODINGS)
async def test_4_pathsend_after_an_event_stream_head(coding: str, tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_bytes(PAGE)
    msgs = [
        start(content_type="text/event-stream"),
        {"type": "http.response.pathsend", "path": str(path)},
    ]
    scope = make_scope(accept_encoding=coding, extensions={"http.response.pathsend": {}})
    rec = await run(CompressMiddleware(app_sending(msgs)), scope)
    assert rec.headers["content-encoding"] == coding
    assert decode(coding, rec.body) == PAGE


async def test_5_headers_as_a_generator_reach_the_app() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(list(scope["headers"]))
        await send(start())
        await send(body(PAGE))

    scope = make_scope(headers=[("x-a", "1")], accept_encoding="br")
    scope["headers"] = (pair for pair in list(scope["headers"]))
    rec = await run(CompressMiddleware(app), scope)
    assert (b"x-a", b"1") in seen[0] and (b"accept-encoding", b"br") in seen[0]
    assert rec.headers["content-encoding"] == "br"


async def test_9_breach_padding_makes_the_suffixed_etag_weak() -> None:
    """RFC 9110 section 8.8.1: a strong validator promises identical bytes; padded bytes
    differ on every response."""
    msgs = [start(headers=[("etag", '"v"')]), body(PAGE)]
    padded = await run(
        CompressMiddleware(app_sending(msgs), breach_padding=64), accept_encoding="br"
    )
    plain = await run(CompressMiddleware(app_sending(msgs), cache=None), accept_encoding="br")
    assert padded.headers["etag"] == 'W/"v:br"'
    assert plain.headers["etag"] == '"v:br"'
    assert decode("br", padded.body) == PAGE


def lying_app(declared: int, chunks: list[bytes], *, final: bool) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_length=declared))
        for chunk in chunks:
            await send(body(chunk, more=True))
        if final:
            await send(body())

    return app


async def test_12_a_short_body_collected_whole_passes_for_the_server_to_see() -> None:
    """RFC 9112 section 6.3: the app declares 100,000 bytes and sends 20,000 (a dead upstream).
    Held whole, the body goes out unencoded under the app's own Content-Length, so the server
    ends the message as incomplete, as it would without us (curl: error 18)."""
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
async def test_12_a_streamed_body_that_contradicts_its_length_is_an_error(
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


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        pytest.param('"a,b:br"', 304, id="comma-inside-the-tag"),
        pytest.param('"x", "a,b:br"', 304, id="in-a-list"),
        pytest.param('"a:br"', 200, id="a-different-tag"),
    ],
)
async def test_13_an_entity_tag_may_hold_a_comma(if_none_match: str, status: int) -> None:
    msgs = [start(headers=[("etag", '"a,b"')]), body(PAGE)]
    scope = make_scope(headers=[("if-none-match", if_none_match)], accept_encoding="br")
    rec = await run(CompressMiddleware(evaluating(msgs)), scope)
    assert rec.status == status


async def test_13_our_304_keeps_last_modified() -> None:
    """RFC 9110 section 15.4.5: caches use it to update the response they stored."""
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    msgs = [start(headers=[("etag", '"v"'), ("last-modified", date)]), body(PAGE)]
    scope = make_scope(headers=[("if-none-match", '"v:br"')], accept_encoding="br")
    rec = await run(CompressMiddleware(evaluating(msgs)), scope)
    assert rec.status == 304
    assert rec.headers["last-modified"] == date


async def test_13_an_absurd_content_length_is_ignored() -> None:
    msgs = [start(headers=[("content-length", "9" * 5000)]), body(PAGE)]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    assert decode("gzip", rec.body) == PAGE


async def test_11_overlapping_sends_are_refused_wherever_they_overlap() -> None:
    """An app whose two tasks call send at once breaks the ASGI contract; we say so whether
    the first send is in a codec thread or in the server's own send."""
    import anyio

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
            await send(body(PAGE))

    await CompressMiddleware(app)(make_scope(accept_encoding="gzip"), _request, slow_send)
    assert errors and "must not overlap" in str(errors[0])


async def _request() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
