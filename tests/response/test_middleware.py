"""The compress-or-pass rules, checked on the ASGI messages the middleware sends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from asgi_compress import CompressMiddleware, skip_compression
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.settings import Options
from tests.harness import (
    ENCODINGS,
    Decoder,
    Recorded,
    app_sending,
    body,
    decode,
    make_scope,
    run,
    start,
    text,
)

BIG = text(4000)


def identity_check(rec: Recorded, sent: bytes) -> None:
    """Passed through: same bytes, no Content-Encoding, Vary carries Accept-Encoding."""
    assert "content-encoding" not in rec.headers
    assert rec.body == sent
    assert "accept-encoding" in rec.headers["vary"].lower()


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_one_shot_body_is_encoded_with_new_length(encoding: str) -> None:
    app = CompressMiddleware(app_sending([start(content_length=len(BIG)), body(BIG)]))
    rec = await run(app, accept_encoding=encoding)
    assert rec.headers["content-encoding"] == encoding
    assert int(rec.headers["content-length"]) == len(rec.body) < len(BIG)
    assert rec.headers["vary"] == "Accept-Encoding"
    assert decode(encoding, rec.body) == BIG


@pytest.mark.parametrize(
    ("message", "body_bytes"),
    [
        pytest.param(start(status=204), BIG, id="204"),
        pytest.param(start(status=205), BIG, id="205"),
        pytest.param(
            start(status=206, headers=[("content-range", "bytes 0-3999/9000")]), BIG, id="206"
        ),
        pytest.param(
            start(headers=[("content-range", "bytes 0-3999/9000")]), BIG, id="content-range"
        ),
        pytest.param(start(headers=[("content-encoding", "gzip")]), BIG, id="already-encoded"),
        pytest.param(start(headers=[("Content-Encoding", "identity")]), BIG, id="ce-identity"),
        pytest.param(
            start(headers=[("cache-control", "public, No-Transform")]), BIG, id="no-transform"
        ),
        pytest.param(start(content_type="image/png"), BIG, id="not-listed-type"),
        pytest.param(start(content_type=None), BIG, id="no-content-type"),
        pytest.param(start(content_length=499), text(499), id="declared-below-min"),
        pytest.param(start(), text(499), id="single-message-below-min"),
        pytest.param(start(), b"", id="empty-body"),
        pytest.param(start(), os.urandom(4000), id="incompressible"),
    ],
)
async def test_skipped_responses_pass_through_with_vary(
    message: Message, body_bytes: bytes
) -> None:
    app = CompressMiddleware(app_sending([message, body(body_bytes)]))
    rec = await run(app, accept_encoding="gzip, br, zstd")
    # Untouched apart from Vary: same status, same headers, same bytes.
    assert rec.status == message["status"]
    assert rec.start["headers"] == [*message["headers"], (b"vary", b"Accept-Encoding")]
    assert rec.body == body_bytes


async def test_empty_body_is_not_compressed_even_with_min_size_zero() -> None:
    app = CompressMiddleware(app_sending([start(status=200), body(b"")]), min_size=0)
    rec = await run(app, accept_encoding="gzip")
    identity_check(rec, b"")


async def test_body_of_exactly_min_size_is_compressed() -> None:
    data = text(500)
    app = CompressMiddleware(app_sending([start(), body(data)]))
    rec = await run(app, accept_encoding="gzip")
    assert decode("gzip", rec.body) == data


async def test_media_type_matching_ignores_parameters_and_case() -> None:
    message = start(content_type="Text/HTML; charset=UTF-8")
    rec = await run(CompressMiddleware(app_sending([message, body(BIG)])), accept_encoding="br")
    assert rec.headers["content-encoding"] == "br"


async def test_wildcard_mimetype_matches_subtypes() -> None:
    app = CompressMiddleware(
        app_sending([start(content_type="text/csv"), body(BIG)]), mimetypes=["text/*"]
    )
    rec = await run(app, accept_encoding="gzip")
    assert decode("gzip", rec.body) == BIG


async def test_no_accept_encoding_passes_through_with_vary() -> None:
    rec = await run(CompressMiddleware(app_sending([start(), body(BIG)])))
    identity_check(rec, BIG)


async def test_declared_length_judges_a_body_sent_in_several_messages() -> None:
    parts = [BIG[:1000], BIG[1000:2000], BIG[2000:]]
    msgs = [
        start(content_length=len(BIG)),
        body(parts[0], True),
        body(parts[1], True),
        body(parts[2]),
    ]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    assert rec.headers["content-encoding"] == "gzip"
    # Within the hold limit the declared body is collected and answered whole, with the
    # encoded length (per-message flushing would only cost ratio).
    assert rec.headers["content-length"] == str(len(rec.body))
    assert decode("gzip", rec.body) == BIG

    small = [start(content_length=400), body(text(200), True), body(text(200, seed=1))]
    rec = await run(CompressMiddleware(app_sending(small)), accept_encoding="gzip")
    assert "content-encoding" not in rec.headers
    assert rec.headers["content-length"] == "400"


async def test_whole_body_then_empty_final_message_is_one_shot() -> None:
    """Quart sends every response this way; it deserves a Content-Length."""
    msgs = [start(content_length=len(BIG)), body(BIG, more=True), body(b"")]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="zstd")
    assert int(rec.headers["content-length"]) == len(rec.body)
    assert [m.get("more_body", False) for m in rec.bodies] == [True, False]
    assert decode("zstd", rec.body) == BIG


async def test_empty_messages_before_the_first_data_count_for_nothing() -> None:
    msgs = [start(), body(b"", True), body(b"", True), body(BIG)]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="br")
    assert len(rec.bodies) == 1
    assert int(rec.headers["content-length"]) == len(rec.body)
    assert decode("br", rec.body) == BIG


async def test_vary_lines_are_kept_and_accept_encoding_added_once() -> None:
    msg = start(headers=[("Vary", "Cookie"), ("vary", "Origin")])
    rec = await run(CompressMiddleware(app_sending([msg, body(BIG)])), accept_encoding="gzip")
    assert rec.header_lines("vary") == ["Cookie", "Origin", "Accept-Encoding"]

    msg = start(headers=[("VARY", "origin, accept-encoding")])
    rec = await run(CompressMiddleware(app_sending([msg, body(BIG)])), accept_encoding="gzip")
    assert rec.header_lines("vary") == ["origin, accept-encoding"]

    for ae in ("gzip", None):
        msg = start(headers=[("vary", "*")])
        rec = await run(CompressMiddleware(app_sending([msg, body(b"x")])), accept_encoding=ae)
        assert rec.header_lines("vary") == ["*"]


async def test_header_names_are_case_insensitive() -> None:
    msg: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"Content-Type", b"text/plain"),
            (b"Content-Length", b"4000"),
            (b"ETag", b'"v1"'),
        ],
    }
    # No cache: its levels would make the tag weak (tests/cache/test_hot_cache.py).
    app = CompressMiddleware(app_sending([msg, body(BIG)]), cache=None)
    rec = await run(app, accept_encoding="gzip")
    names = [n.lower() for n, _ in rec.start["headers"]]
    assert names.count(b"content-length") == 1
    assert rec.headers["etag"] == '"v1:gzip"'


async def test_strong_etag_gets_the_coding_suffix_and_weak_is_kept() -> None:
    # No cache: with one, cache levels make the tag weak (tests/cache/test_hot_cache.py).
    msg = start(headers=[("etag", '"abc"')])
    app = CompressMiddleware(app_sending([msg, body(BIG)]), cache=None)
    rec = await run(app, accept_encoding="br")
    assert rec.headers["etag"] == '"abc:br"'
    msg = start(headers=[("etag", 'W/"abc"')])
    rec = await run(CompressMiddleware(app_sending([msg, body(BIG)])), accept_encoding="br")
    assert rec.headers["etag"] == 'W/"abc"'


async def test_accept_ranges_is_removed_when_encoding() -> None:
    msg = start(headers=[("accept-ranges", "bytes")])
    rec = await run(CompressMiddleware(app_sending([msg, body(BIG)])), accept_encoding="gzip")
    assert "accept-ranges" not in rec.headers


async def test_validator_suffix_is_stripped_before_the_app_sees_it() -> None:
    seen = Recorded()
    app = CompressMiddleware(app_sending([start(), body(BIG)], record_scope=seen))
    headers = [("If-None-Match", 'W/"a:br", "b:gzip", "c"'), ("if-match", '"d:br"')]
    await run(app, make_scope(headers=headers, accept_encoding="br"))
    assert seen.app_scope is not None
    app_headers = dict(seen.app_scope["headers"])
    # Only the coding this request gets is stripped: "b:gzip" names a representation it won't get.
    # The W/ of a suffixed tag was ours too (cache levels, padding): the app gets its own tag.
    assert app_headers[b"if-none-match"] == b'"a", "b:gzip", "c"'
    assert app_headers[b"if-match"] == b'"d"'


async def test_app_304_to_a_suffixed_validator_carries_the_suffixed_etag() -> None:
    msgs = [start(status=304, content_type=None, headers=[("etag", '"abc"')]), body(b"")]
    scope = make_scope(headers=[("if-none-match", '"abc:zstd"')], accept_encoding="zstd, br")
    # No cache: its levels would make the tag weak, in the 304 as in its 200
    # (tests/response/test_validators.py).
    rec = await run(CompressMiddleware(app_sending(msgs), cache=None), scope)
    assert rec.status == 304
    assert rec.headers["etag"] == '"abc:zstd"'
    assert rec.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in rec.headers
    assert rec.body == b""


async def test_starlette_static_files_answer_304_to_the_suffixed_etag(tmp_path: Path) -> None:
    from starlette.staticfiles import StaticFiles

    (tmp_path / "app.css").write_bytes(BIG)
    app = CompressMiddleware(StaticFiles(directory=tmp_path))
    first = await run(app, make_scope(path="/app.css", accept_encoding="gzip"))
    etag = first.headers["etag"]
    assert etag.endswith(':gzip"')
    assert decode("gzip", first.body) == BIG
    again = await run(
        app, make_scope(path="/app.css", headers=[("if-none-match", etag)], accept_encoding="gzip")
    )
    assert again.status == 304
    assert again.headers["etag"] == etag
    assert "content-encoding" not in again.headers
    assert again.body == b""


@pytest.mark.parametrize("send_body", [False, True], ids=["no-body", "body-sent-anyway"])
async def test_head_gets_get_headers_without_length_or_body(send_body: bool) -> None:
    head_msgs = [
        start(content_length=len(BIG), headers=[("etag", '"e"')]),
        body(BIG if send_body else b""),
    ]
    get_msgs = [start(content_length=len(BIG), headers=[("etag", '"e"')]), body(BIG)]
    head = await run(
        CompressMiddleware(app_sending(head_msgs)), method="HEAD", accept_encoding="br"
    )
    get = await run(CompressMiddleware(app_sending(get_msgs)), accept_encoding="br")
    assert head.body == b""
    assert "content-length" not in head.headers
    for name in ("content-encoding", "vary", "etag", "content-type"):
        assert head.headers[name] == get.headers[name]


async def test_head_below_min_size_passes_through() -> None:
    msgs = [start(content_length=100), body(b"")]
    rec = await run(CompressMiddleware(app_sending(msgs)), method="HEAD", accept_encoding="br")
    assert "content-encoding" not in rec.headers
    assert rec.headers["content-length"] == "100"


async def test_trailers_follow_the_encoded_body_and_drop_content_length() -> None:
    trailers: Message = {
        "type": "http.response.trailers",
        "headers": [(b"x-digest", b"1")],
        "more_trailers": False,
    }
    msgs = [start(content_length=len(BIG), trailers=True), body(BIG), trailers]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    assert [m["type"] for m in rec.messages] == [
        "http.response.start",
        "http.response.body",
        "http.response.trailers",
    ]
    assert "content-length" not in rec.headers
    assert decode("gzip", rec.body) == BIG


async def test_unknown_and_debug_messages_are_forwarded_in_order() -> None:
    debug: Message = {"type": "http.response.debug", "info": {"template": "x"}}
    hint: Message = {"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]}
    custom: Message = {"type": "x.custom"}
    msgs = [debug, hint, start(), body(BIG, True), custom, body(BIG)]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    types = [m["type"] for m in rec.messages]
    # The body held before x.custom is flushed ahead of it: order is kept, bytes decodable.
    assert [t for t in types if t != "http.response.body"] == [
        "http.response.debug",
        "http.response.early_hint",
        "http.response.start",
        "x.custom",
    ]
    custom_at = types.index("x.custom")
    flushed = b"".join(m["body"] for m in rec.messages[3:custom_at])
    assert Decoder("gzip").feed(flushed) == BIG
    assert types[-1] == "http.response.body"
    assert rec.messages[0] is not None and rec.messages[0]["info"] == {"template": "x"}
    assert decode("gzip", rec.body) == BIG + BIG


async def test_unknown_message_while_head_is_held_passes_the_response_through() -> None:
    msgs = [start(), {"type": "x.custom"}, body(BIG)]
    rec = await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")
    assert [m["type"] for m in rec.messages] == [
        "http.response.start",
        "x.custom",
        "http.response.body",
    ]
    identity_check(rec, BIG)


@pytest.mark.parametrize(
    "msgs",
    [
        pytest.param([start(), body(BIG), start()], id="second-start-after-body"),
        pytest.param([start(), start()], id="second-start-while-held"),
        pytest.param([body(BIG)], id="body-before-start"),
        pytest.param([start(), body(BIG), body(BIG)], id="body-after-final"),
    ],
)
async def test_impossible_messages_raise_naming_message_and_state(msgs: list[Message]) -> None:
    with pytest.raises(
        RuntimeError,
        match=r"unexpected ASGI message 'http\.response\.\w+' in response state [A-Z]+",
    ):
        await run(CompressMiddleware(app_sending(msgs)), accept_encoding="gzip")


async def test_second_start_raises_without_accept_encoding_too() -> None:
    app = CompressMiddleware(app_sending([start(), body(BIG), start()]))
    with pytest.raises(RuntimeError, match="'http.response.start' in response state PASSING"):
        await run(app)


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_pass_straight_through(scope_type: str) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "x.sent"})

    scope: Scope = {"type": scope_type, "headers": [(b"accept-encoding", b"gzip")]}
    rec = await run(CompressMiddleware(app), scope)
    assert seen == [scope] and seen[0] is scope
    assert rec.messages == [{"type": "x.sent"}]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_pathsend_file_is_read_and_encoded(tmp_path: Path, encoding: str) -> None:
    data = text(700_000)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    msgs = [start(content_length=len(data)), {"type": "http.response.pathsend", "path": str(path)}]
    extensions: dict[str, Any] = {"http.response.pathsend": {}, "http.response.zerocopysend": {}}
    seen = Recorded()
    # No cache: a file the cache would keep is read whole instead (cache/test_cache_wiring.py).
    app = CompressMiddleware(app_sending(msgs, record_scope=seen), cache=None)
    scope = make_scope(accept_encoding=encoding, extensions=extensions)
    rec = await run(app, scope)
    assert rec.headers["content-encoding"] == encoding
    assert "content-length" not in rec.headers
    assert rec.bodies[-1]["more_body"] is False
    assert decode(encoding, rec.body) == data
    # zero-copy send would bypass the encoder: withdrawn from the app's copy of the scope only.
    assert seen.app_scope is not None
    assert "http.response.zerocopysend" not in seen.app_scope["extensions"]
    assert "http.response.zerocopysend" in scope["extensions"]


async def test_pathsend_not_compressible_is_forwarded(tmp_path: Path) -> None:
    path = tmp_path / "img.png"
    path.write_bytes(BIG)
    pathsend: Message = {"type": "http.response.pathsend", "path": str(path)}
    msgs = [start(content_type="image/png", content_length=len(BIG)), pathsend]
    scope = make_scope(accept_encoding="gzip", extensions={"http.response.pathsend": {}})
    rec = await run(CompressMiddleware(app_sending(msgs)), scope)
    assert rec.messages[1] == pathsend
    assert "content-encoding" not in rec.headers


async def test_streams_option_false_leaves_streams_alone() -> None:
    msgs = [start(), body(BIG, True), body(BIG)]
    rec = await run(CompressMiddleware(app_sending(msgs), streams=False), accept_encoding="gzip")
    identity_check(rec, BIG + BIG)
    one_shot = await run(
        CompressMiddleware(app_sending([start(), body(BIG)]), streams=False), accept_encoding="gzip"
    )
    assert one_shot.headers["content-encoding"] == "gzip"


async def test_algorithm_streaming_is_used_for_streams_only() -> None:
    # Per-message flushing: a short stream would otherwise be answered whole (one-shot).
    mw = Options(algorithm="gzip", algorithm_streaming=["br"], flush_delay=0)
    stream = await run(
        CompressMiddleware(app_sending([start(), body(BIG, True), body(BIG)]), **mw),
        accept_encoding="gzip, br",
    )
    assert stream.headers["content-encoding"] == "br"
    one = await run(
        CompressMiddleware(app_sending([start(), body(BIG)]), **mw), accept_encoding="gzip, br"
    )
    assert one.headers["content-encoding"] == "gzip"


async def test_skip_compression_from_the_app() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        skip_compression(scope)
        await send(start())
        await send(body(BIG))

    rec = await run(CompressMiddleware(app), accept_encoding="gzip")
    identity_check(rec, BIG)


@pytest.mark.parametrize(
    ("request_headers", "status"),
    [
        pytest.param([("if-none-match", '"v:br"')], 304, id="inm-suffixed"),
        pytest.param([("if-none-match", 'W/"v:br"')], 304, id="inm-weak-form"),
        pytest.param([("if-none-match", '"v"')], 200, id="inm-unsuffixed"),
        pytest.param([("if-none-match", '"v:gzip"')], 200, id="inm-other-coding"),
        pytest.param(
            [("if-modified-since", "Wed, 21 Oct 2026 07:28:00 GMT")], 304, id="ims-not-modified"
        ),
        pytest.param(
            [("if-modified-since", "Tue, 20 Oct 2026 07:28:00 GMT")], 200, id="ims-modified"
        ),
        pytest.param([("if-match", '"v"')], 412, id="if-match-fails"),
        pytest.param([("if-match", '"v:br"')], 200, id="if-match-passes"),
    ],
)
async def test_conditional_requests_are_answered_before_encoding(
    request_headers: list[tuple[str, str]], status: int
) -> None:
    head = start(headers=[("etag", '"v"'), ("last-modified", "Wed, 21 Oct 2026 07:28:00 GMT")])
    # No cache: its levels would make the tag weak, which no If-Match matches (RFC 9110 13.1.1).
    app = CompressMiddleware(app_sending([head, body(BIG)], evaluate_conditional=True), cache=None)
    rec = await run(app, make_scope(headers=request_headers, accept_encoding="br"))
    assert rec.status == status
    if status == 200:
        assert decode("br", rec.body) == BIG
    else:
        assert rec.body == b""
        assert "content-encoding" not in rec.headers
        assert "content-type" not in rec.headers
    if status == 304:
        assert rec.headers["etag"] == '"v:br"'
        assert "content-length" not in rec.headers


async def test_conditionals_on_streams_only_when_asked() -> None:
    msgs = [start(headers=[("etag", '"s"')]), body(BIG, True), body(BIG)]
    scope_headers = [("if-none-match", '"s:gzip"')]
    # Per-message flushing: a short stream would otherwise be answered whole (one-shot).
    off = CompressMiddleware(app_sending(msgs, evaluate_conditional=True), flush_delay=0)
    rec = await run(off, make_scope(headers=scope_headers, accept_encoding="gzip"))
    assert rec.status == 200 and decode("gzip", rec.body) == BIG + BIG
    on = CompressMiddleware(
        app_sending(msgs, evaluate_conditional=True, evaluate_conditional_streams=True),
        flush_delay=0,
    )
    rec = await run(on, make_scope(headers=scope_headers, accept_encoding="gzip"))
    assert rec.status == 304 and rec.body == b""
    assert [m.get("more_body", False) for m in rec.bodies] == [False]
