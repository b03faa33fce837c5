"""CompressMiddleware with dictionary options, in process: what each request gets.

Recorded with the harness and decoded with the zstd module given the dictionary as a
raw prefix (tests/dictionaries/test_dictionaries.py ``DczDecoder``), never with our encoder.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.cache import DictCache
from asgi_compress.dictionaries.options import ProvidedDictionary
from asgi_compress.policy import SCOPE_KEY
from tests.harness import app_sending, body, run, start
from tests.harness.dcz import (
    CACHEABLE,
    CHROMIUM_AE,
    JS,
    V1,
    DczDecoder,
    available,
    bundle,
    decode_dcz,
    middleware,
    store_v1,
    vary,
)

PATHSEND = "http.response.pathsend"


async def test_new_bundle_is_dcz_against_the_stored_old_one() -> None:
    mw = middleware([start(200, JS, [CACHEABLE]), body(bundle(2))])
    await store_v1(mw)
    recorded = await run(
        mw,
        path="/static/app.v2.js",
        headers=[available(bundle(1))],
        accept_encoding=CHROMIUM_AE,
    )
    assert recorded.headers["content-encoding"] == "dcz"
    assert {"accept-encoding", "available-dictionary"} <= vary(recorded)
    assert int(recorded.headers["content-length"]) == len(recorded.body)
    assert decode_dcz(recorded.body, bundle(1)) == bundle(2)


async def test_streamed_bundle_is_dcz_and_each_message_decodes_on_arrival() -> None:
    chunks = [bundle(2)[i : i + 30_000] for i in range(0, len(bundle(2)), 30_000)]
    messages = [start(200, JS, [CACHEABLE])]
    messages += [body(c, more=True) for c in chunks] + [body()]
    mw = middleware(messages, flush_delay=0)  # per-message flushing: each decodes on arrival
    await store_v1(mw)
    decoder = DczDecoder(bundle(1))
    decoded: list[bytes] = []
    recorded = await run(
        mw,
        path="/static/app.v2.js",
        headers=[available(bundle(1))],
        accept_encoding=CHROMIUM_AE,
        on_send=lambda m: (
            decoded.append(decoder.feed(m.get("body", b"")))
            if m["type"] == "http.response.body"
            else None
        ),
    )
    assert recorded.headers["content-encoding"] == "dcz"
    assert [d for d in decoded if d] == chunks
    assert decoder.eof


async def test_dictionary_sent_in_several_messages_is_kept_too() -> None:
    """StaticFiles streams a file in chunks: the dictionary is its whole identity body."""
    v1_chunks = [bundle(1)[i : i + 16_384] for i in range(0, len(bundle(1)), 16_384)]
    v1 = [start(200, JS, [CACHEABLE]), *(body(c, more=True) for c in v1_chunks), body()]
    by_path = {"/static/app.v1.js": v1, "/static/app.v2.js": [*V1[:1], body(bundle(2))]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in by_path[scope["path"]]:
            await send(dict(message))

    options: dict[str, Any] = {"dictionary_paths": ["/static/app.*.js"]}
    mw = CompressMiddleware(app, **options)
    first = await run(mw, path="/static/app.v1.js", accept_encoding=CHROMIUM_AE)
    assert first.decoded() == bundle(1)
    recorded = await run(
        mw, path="/static/app.v2.js", headers=[available(bundle(1))], accept_encoding=CHROMIUM_AE
    )
    assert recorded.headers["content-encoding"] == "dcz"
    assert decode_dcz(recorded.body, bundle(1)) == bundle(2)


@pytest.mark.parametrize(
    ("request_headers", "response_headers", "accept", "coding"),
    [
        pytest.param([], [CACHEABLE], CHROMIUM_AE, "zstd", id="no-available-dictionary"),
        pytest.param([available(b"unknown")], [CACHEABLE], CHROMIUM_AE, "zstd", id="unknown-hash"),
        pytest.param([available(bundle(1))], [CACHEABLE], "gzip, br, zstd", "zstd",
                     id="client-without-dcz"),
        pytest.param([available(bundle(1))], [CACHEABLE, ("set-cookie", "s=1")], CHROMIUM_AE,
                     "zstd", id="sets-cookie"),
        pytest.param([available(bundle(1))], [("cache-control", "no-store")], CHROMIUM_AE,
                     "zstd", id="no-store"),
    ],
)  # fmt: skip
async def test_fallbacks_get_the_ordinary_coding(
    request_headers: list[tuple[str, str]],
    response_headers: list[tuple[str, str]],
    accept: str,
    coding: str,
) -> None:
    mw = middleware([start(200, JS, response_headers), body(bundle(2))])
    await store_v1(mw)
    recorded = await run(
        mw, path="/static/app.v2.js", headers=request_headers, accept_encoding=accept
    )
    assert recorded.headers["content-encoding"] == coding
    assert "available-dictionary" not in vary(recorded)
    assert recorded.decoded() == bundle(2)


async def test_cached_dcz_body_is_only_served_for_its_own_dictionary() -> None:
    """With a response cache, a dcz body is kept per dictionary, not per coding."""
    cache = DictCache()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY].cache_key = scope["path"]  # one slot per path, whatever the dictionary
        version = 1 if scope["path"].endswith("v1.js") else 3 if "v3" in scope["path"] else 2
        await send(start(200, JS, [CACHEABLE]))
        await send(body(bundle(version)))

    options: dict[str, Any] = {"dictionary_paths": ["/static/app.*.js"], "cache": cache}
    mw = CompressMiddleware(app, **options)
    await run(mw, path="/static/app.v1.js", accept_encoding=CHROMIUM_AE)
    await run(mw, path="/static/app.v3.js", accept_encoding=CHROMIUM_AE)
    for held in (bundle(1), bundle(3), bundle(1)):
        recorded = await run(
            mw, path="/static/app.v2.js", headers=[available(held)], accept_encoding=CHROMIUM_AE
        )
        assert recorded.headers["content-encoding"] == "dcz"
        assert decode_dcz(recorded.body, held) == bundle(2)


async def test_excluded_response_is_not_dcz() -> None:
    mw = middleware([start(200, "image/png", [CACHEABLE]), body(bundle(2))])
    await store_v1(mw)
    recorded = await run(
        mw, path="/static/app.v2.js", headers=[available(bundle(1))], accept_encoding=CHROMIUM_AE
    )
    assert "content-encoding" not in recorded.headers
    assert recorded.body == bundle(2)


async def test_provided_dictionary_is_served_and_announced_on_html() -> None:
    provided = ProvidedDictionary(bundle(7), match="/api/*", url_path="/_d/api.dict", id="a1")
    page = app_sending([start(200, "text/html", [("cache-control", "no-store")]), body(b"<p>x")])
    options: dict[str, Any] = {"dictionaries": [provided]}
    mw = CompressMiddleware(page, **options)
    html = await run(mw, path="/", accept_encoding=CHROMIUM_AE)
    assert html.header_lines("link") == ['</_d/api.dict>; rel="compression-dictionary"']
    served = await run(mw, path="/_d/api.dict", accept_encoding="identity")
    assert served.body == bundle(7)
    assert served.headers["use-as-dictionary"] == 'match="/api/*", id="a1", type=raw'
    assert served.headers["cache-control"] == "public, max-age=604800"


def test_bad_dictionary_option_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="dictionary_paths"):
        options: dict[str, Any] = {"dictionary_paths": ["/api/:id"]}
        CompressMiddleware(app_sending([]), **options)


def dcz_token(data: bytes) -> str:
    return "dcz-" + hashlib.sha256(data).hexdigest()[:16]


async def test_dcz_etag_names_the_dictionary_and_its_validator_gets_a_304() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY].evaluate_conditional = True
        seen.append(dict(scope["headers"]).get(b"if-none-match", b"").decode())
        await send(start(200, JS, [CACHEABLE, ("etag", '"v2"')]))
        await send(body(bundle(2) if scope["path"].endswith("v2.js") else bundle(1)))

    options: dict[str, Any] = {"dictionary_paths": ["/static/app.*.js"]}
    mw = CompressMiddleware(app, **options)
    await store_v1(mw)
    held = [available(bundle(1))]
    first = await run(mw, path="/static/app.v2.js", headers=held, accept_encoding=CHROMIUM_AE)
    tag = f'"v2:{dcz_token(bundle(1))}"'
    assert first.headers["content-encoding"] == "dcz"
    assert first.headers["etag"] == tag
    again = await run(
        mw,
        path="/static/app.v2.js",
        headers=[*held, ("if-none-match", tag)],
        accept_encoding=CHROMIUM_AE,
    )
    assert again.status == 304
    assert again.headers["etag"] == tag
    assert seen[-1] == '"v2"'  # the app sees its own tag, our suffix stripped


async def test_whole_body_gets_the_ordinary_coding_when_dcz_is_not_smaller() -> None:
    """A dictionary that shares nothing with the body: dcz would only add its header."""
    noise = ProvidedDictionary(random.Random(5).randbytes(20_000), match="/api/*")
    api = json.dumps([{"id": i, "name": f"item {i}"} for i in range(400)]).encode()
    app = app_sending([start(200, "application/json", [CACHEABLE]), body(api)])
    options: dict[str, Any] = {"dictionaries": [noise]}
    mw = CompressMiddleware(app, **options)
    recorded = await run(
        mw, path="/api/items", headers=[available(noise.data)], accept_encoding=CHROMIUM_AE
    )
    assert recorded.headers["content-encoding"] == "zstd"
    assert "available-dictionary" not in vary(recorded)
    assert recorded.decoded() == api


async def test_dictionary_sent_with_pathsend_is_kept(tmp_path: Path) -> None:
    """StaticFiles under granian answers with http.response.pathsend: the file is the
    dictionary."""
    v1 = tmp_path / "app.v1.js"
    v1.write_bytes(bundle(1))
    by_path = {
        "/static/app.v1.js": [start(200, JS, [CACHEABLE]), {"type": PATHSEND, "path": str(v1)}],
        "/static/app.v2.js": [start(200, JS, [CACHEABLE]), body(bundle(2))],
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in by_path[scope["path"]]:
            await send(dict(message))

    options: dict[str, Any] = {"dictionary_paths": ["/static/app.*.js"]}
    mw = CompressMiddleware(app, **options)
    first = await run(
        mw, path="/static/app.v1.js", accept_encoding=CHROMIUM_AE, extensions={PATHSEND: {}}
    )
    assert first.decoded() == bundle(1)
    recorded = await run(
        mw, path="/static/app.v2.js", headers=[available(bundle(1))], accept_encoding=CHROMIUM_AE
    )
    assert recorded.headers["content-encoding"] == "dcz"
    assert decode_dcz(recorded.body, bundle(1)) == bundle(2)


async def test_dictionary_kept_by_one_worker_is_used_by_another_through_the_cache() -> None:
    """Issue 12: with a shared cache, dictionaries live there too (DictCache stands in for
    Redis or a directory shared by the workers)."""
    shared = DictCache()
    v2 = [start(200, JS, [CACHEABLE]), body(bundle(2))]
    await store_v1(middleware(v2, cache=shared))
    recorded = await run(
        middleware(v2, cache=shared),
        path="/static/app.v2.js",
        headers=[available(bundle(1))],
        accept_encoding=CHROMIUM_AE,
    )
    assert recorded.headers["content-encoding"] == "dcz"
    assert decode_dcz(recorded.body, bundle(1)) == bundle(2)


async def test_provided_dictionary_head_has_the_headers_and_no_body() -> None:
    provided = ProvidedDictionary(bundle(7), match="/api/*", url_path="/_d/api.dict")
    options: dict[str, Any] = {"dictionaries": [provided]}
    mw = CompressMiddleware(app_sending([]), **options)
    served = await run(mw, method="HEAD", path="/_d/api.dict", accept_encoding="identity")
    assert served.body == b""
    assert served.headers["content-length"] == str(len(bundle(7)))
    assert served.headers["use-as-dictionary"] == 'match="/api/*", type=raw'


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        pytest.param("dcz_level", 0, ValueError, id="dcz-level"),
        pytest.param("dictionary_max_count", -1, ValueError, id="max-count"),
        pytest.param("dictionary_cache", object(), TypeError, id="cache"),
        pytest.param("dictionaries", [b"bytes"], TypeError, id="dictionaries"),
    ],
)
def test_bad_dictionary_options_name_the_option(option: str, value: Any, error: type) -> None:
    options: dict[str, Any] = {"dictionary_paths": ["/static/*"], option: value}
    with pytest.raises(error, match=option):
        CompressMiddleware(app_sending([]), **options)
