"""A HEAD says what its GET sends, with a dictionary in play (issue 16).

GET's whole body goes out as dcz or as the ordinary coding, whichever is smaller (issue 12),
so a HEAD's head depends on the body too: the HEAD's own body when the app sends one (the
server drops it), else what a GET of the same strong ETag went out in, else dcz (what GET
sends for a body it cannot weigh). Each case compares the HEAD's head with GET's.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from typing import Any

import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.dictionaries.options import ProvidedDictionary
from tests.harness import Recorded, body, run, start
from tests.harness.dcz import CACHEABLE, CHROMIUM_AE, JS, available, bundle, vary

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

NOISE = random.Random(5).randbytes(20_000)
NOISE2 = random.Random(6).randbytes(20_000)
API = json.dumps([{"id": i, "name": f"item {i}"} for i in range(400)]).encode()
RANDOM = random.Random(9).randbytes(40_000)
# path: (the body, the dictionary the client holds); each dictionary is provided for it.
RESOURCES = {
    "/api/items": (API, NOISE),  # the dictionary shares nothing: zstd is smaller
    "/js/app.js": (bundle(2), bundle(1)),  # the previous release: dcz is far smaller
    "/bin/blob": (RANDOM, NOISE2),  # nothing compresses it: sent unencoded
}
COMPARED = ("content-encoding", "etag", "content-length")


def middleware(*, body_on_head: bool, chunk: int = 0, **options: Any) -> CompressMiddleware:
    """Each resource with a strong ETag and its Content-Length; its body also on HEAD when
    ``body_on_head`` (as Starlette's Response does), in messages of ``chunk`` bytes if set."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        data = RESOURCES[scope["path"]][0]
        name = scope["path"].strip("/").replace("/", "-")
        tag = ("etag", f'"{name}"')
        await send(start(200, JS, [CACHEABLE, tag], content_length=len(data)))
        if scope["method"] == "HEAD" and not body_on_head:
            await send(body())
            return
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
        messages: list[Message] = [body(p, more=True) for p in pieces[:-1]]
        for message in [*messages, body(pieces[-1])]:
            await send(message)

    dictionaries = [
        ProvidedDictionary(held, match=path, url_path=f"/_d{path}.dict")
        for path, (_, held) in RESOURCES.items()
    ]
    return CompressMiddleware(app, dictionaries=dictionaries, **options)


async def fetch(mw: CompressMiddleware, method: str, path: str) -> Recorded:
    held = RESOURCES[path][1]
    return await run(
        mw, method=method, path=path, headers=[available(held)], accept_encoding=CHROMIUM_AE
    )


def assert_same_head(head: Recorded, get: Recorded, *, length: bool = True) -> None:
    for name in COMPARED if length else COMPARED[:2]:
        assert head.headers.get(name) == get.headers.get(name), name
    assert vary(head) == vary(get)
    assert head.body == b""


def assert_get_decodes(get: Recorded, path: str) -> None:
    data, held = RESOURCES[path]
    if get.headers.get("content-encoding") != "dcz":
        assert get.decoded() == data
        return
    assert get.body[:40] == b"\x5e\x2a\x4d\x18\x20\x00\x00\x00" + hashlib.sha256(held).digest()
    # Every frame, as Chromium reads them: a padded body holds a skippable one first.
    assert zstd.decompress(get.body[40:], zstd_dict=zstd.ZstdDict(held, is_raw=True)) == data


@pytest.mark.parametrize(
    ("path", "coding"),
    [
        pytest.param("/api/items", "zstd", id="ordinary-smaller"),
        pytest.param("/js/app.js", "dcz", id="dcz-smaller"),
        pytest.param("/bin/blob", None, id="neither-smaller"),
    ],
)
@pytest.mark.parametrize("padding", [0, 256], ids=["unpadded", "padded"])
async def test_head_with_its_body_says_what_get_sends(
    path: str, coding: str | None, padding: int
) -> None:
    mw = middleware(body_on_head=True, breach_padding=padding)
    head = await fetch(mw, "HEAD", path)  # first: nothing is known but the HEAD's own body
    get = await fetch(mw, "GET", path)
    assert get.headers.get("content-encoding") == coding
    assert_same_head(head, get, length=not padding)  # padding draws a new length each time
    assert_get_decodes(get, path)


@pytest.mark.parametrize("path", list(RESOURCES))
async def test_head_without_a_body_says_what_the_last_get_sent(path: str) -> None:
    mw = middleware(body_on_head=False)
    get = await fetch(mw, "GET", path)
    head = await fetch(mw, "HEAD", path)
    assert_same_head(head, get, length=False)  # only the encoded body would know it
    assert "content-length" not in head.headers or "content-encoding" not in head.headers
    assert_get_decodes(get, path)


@pytest.mark.parametrize("path", list(RESOURCES))
async def test_head_of_a_streamed_body_says_dcz_like_its_get(path: str) -> None:
    """A body sent in pieces, each flushed (flush_delay=0), is a dcz stream: never weighed."""
    mw = middleware(body_on_head=True, chunk=8192, flush_delay=0)
    head = await fetch(mw, "HEAD", path)
    get = await fetch(mw, "GET", path)
    assert get.headers["content-encoding"] == "dcz"
    assert_same_head(head, get)
    assert_get_decodes(get, path)


async def test_head_with_nothing_known_says_dcz_without_a_length() -> None:
    """No body and no GET answered yet: the head GET sends for a body it cannot weigh."""
    head = await fetch(middleware(body_on_head=False), "HEAD", "/js/app.js")
    assert head.headers["content-encoding"] == "dcz"
    assert {"accept-encoding", "available-dictionary"} <= vary(head)
    assert "content-length" not in head.headers
    assert head.body == b""
