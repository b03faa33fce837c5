"""The cache as the middleware and the Quart extension use it: end to end, real bytes.

Most of these need the responder to call :class:`ResponseCache` (``lookup`` before encoding
a whole body, ``store`` after sending it); until then they are marked ``xfail(strict=True)``
and the lead removes the mark when wiring. A hit is observed without internals: the cache
stores br at level 11 (or deflate at 9), so cached bytes differ from a fresh encoding at the
normal level and equal one made by the codec library at the cache level.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import brotli
import httpx
import pytest
from quart import Quart, Request

from asgi_compress import Compress, CompressMiddleware, DictCache, ResponseCache
from asgi_compress._types import Message, Receive, Scope, Send

from .conftest import body, decode, run, start, text
from .redis_server import RedisServer, redis_unavailable_reason
from .servers import serve, server_unavailable_reason

quart_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Quart runs on asyncio only

BODY = text(50_000, seed=5)
BR11 = brotli.compress(BODY, quality=11, lgwin=22)  # what an entry at the cache level holds
BR4 = brotli.compress(BODY, quality=4, lgwin=22)  # what the normal level sends
APP_BODY = text(100_000, seed=11)  # what tests/cache_app.py serves


def app_sending(*messages: Message) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(dict(message))

    return app


# -- CompressMiddleware(app, cache=...) ----------------------------------------------------------


async def test_a_miss_goes_out_at_the_normal_level_then_hits_at_the_cache_level() -> None:
    app = CompressMiddleware(
        app_sending(start(), body(BODY)), cache=DictCache(), cache_levels={"br": 11}
    )
    with anyio.fail_after(30):
        first = await run(app, accept_encoding="br")
        second = await run(app, accept_encoding="br")  # seen twice: recompressed after it
        third = await run(app, accept_encoding="br")
    assert first.body == second.body == BR4
    assert third.body == BR11
    assert third.headers["content-length"] == str(len(BR11))


async def test_a_declared_length_body_in_chunks_is_collected_and_cached() -> None:
    """A FileResponse's shape: Content-Length declared, the body in several messages."""
    half = len(BODY) // 2
    app = CompressMiddleware(
        app_sending(
            start(content_length=len(BODY)), body(BODY[:half], more=True), body(BODY[half:])
        ),
        cache=DictCache(),
        cache_levels={"br": 11},
    )
    with anyio.fail_after(30):
        for _ in range(2):  # a body is recompressed at the cache level once seen twice
            await run(app, accept_encoding="br")
        third = await run(app, accept_encoding="br")
    assert third.body == BR11


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("set-cookie", "sid=1")], id="set-cookie"),
        pytest.param([("cache-control", "no-store")], id="no-store"),
        pytest.param([("cache-control", "private, max-age=60")], id="private"),
    ],
)
async def test_responses_that_must_not_be_stored_are_never_cached(
    headers: list[tuple[str, str]],
) -> None:
    app = CompressMiddleware(
        app_sending(start(headers=headers), body(BODY)), cache=DictCache(), cache_levels={"br": 11}
    )
    with anyio.fail_after(30):
        for _ in range(3):  # enough sightings to be promoted, were it cacheable
            got = await run(app, accept_encoding="br")
            assert got.body == BR4


async def test_streams_of_unknown_length_are_never_cached() -> None:
    app = CompressMiddleware(
        app_sending(start(), body(BODY[:1000], more=True), body(BODY[1000:])),
        cache=DictCache(),
        cache_levels={"br": 11},
    )
    with anyio.fail_after(30):
        for _ in range(3):  # enough sightings to be promoted, were it cacheable
            got = await run(app, accept_encoding="br")
            assert decode("br", got.body) == BODY
            assert got.body != BR11


# -- the Quart extension's cache_key -------------------------------------------------------------


def quart_app() -> tuple[Quart, Compress]:
    app = Quart(__name__)
    app.config["PAGE"] = BODY
    compress = Compress(app)

    @app.route("/page")
    async def page() -> str:
        return str(app.config["PAGE"].decode())

    # The cache stores deflate at level 9: its zlib header says so (RFC 1950, FLEVEL 3).
    compress.cache = ResponseCache(DictCache(), levels={"deflate": 9})
    compress.cache_key = lambda request: "/page"  # one slot for every body
    return app, compress


async def deflate_get(app: Quart) -> bytes:
    client = app.test_client()
    response = await client.get("/page", headers={"Accept-Encoding": "deflate"})
    assert response.headers["Content-Encoding"] == "deflate"
    return await response.get_data(as_text=False)


@quart_asyncio
async def test_two_bodies_under_one_cache_key_never_get_each_others_bytes() -> None:
    app, _ = quart_app()
    other = text(50_000, seed=6)
    with anyio.fail_after(30):
        first = await deflate_get(app)
        cached = await deflate_get(app)
        app.config["PAGE"] = other  # the page changed; the key did not
        changed = await deflate_get(app)
        changed_cached = await deflate_get(app)
    assert zlib.decompress(first) == zlib.decompress(cached) == BODY
    assert first[1] >> 6 == 2 and cached[1] >> 6 == 3  # normal level, then the cache level
    assert zlib.decompress(changed) == zlib.decompress(changed_cached) == other
    assert changed_cached[1] >> 6 == 3


@quart_asyncio
async def test_a_failing_quart_cache_degrades_to_compressing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing:
        def get(self, key: str) -> bytes | None:
            raise ConnectionError("cache is down")

        def set(self, key: str, value: bytes) -> None:
            raise ConnectionError("cache is down")

    app, compress = quart_app()
    compress.cache = Failing()

    def key(request: Request) -> str:
        return request.path

    compress.cache_key = key
    with anyio.fail_after(30), caplog.at_level("WARNING", logger="asgi_compress"):
        got = await deflate_get(app)
    assert zlib.decompress(got) == BODY
    assert any("get() failed" in r.getMessage() for r in caplog.records)


# -- two server processes share one cache --------------------------------------------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    reason = redis_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def raw_get(base_url: str) -> bytes:
    headers = {"Accept-Encoding": "br"}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", base_url + "/", headers=headers) as response,
    ):
        assert response.headers["content-encoding"] == "br"
        return b"".join(response.iter_raw())


def wait_for(condition: Any, what: str, deadline: float = 10) -> None:
    """Poll ``condition`` until true: an event we cannot subscribe to, never a duration."""
    import time

    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.interop
@pytest.mark.parametrize("kind", ["redis", "directory"])
def test_a_body_compressed_by_one_process_is_served_by_another(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if reason := server_unavailable_reason("uvicorn-h11"):
        pytest.skip(reason)
    if kind == "redis":
        where = request.getfixturevalue("redis_url")
        import redis

        client = redis.Redis.from_url(where)
        stored = lambda: bool(client.keys("asgi-compress:*"))  # noqa: E731
    else:
        where = str(tmp_path / "cache")
        client = None
        stored = lambda: any(Path(where).glob("*/*"))  # noqa: E731
    env = {**os.environ, "CACHE": where}
    cwd = Path(__file__).resolve().parents[1]
    try:
        with serve("tests.cache_app:app", "uvicorn-h11", env=env, cwd=cwd) as first:
            for _ in range(2):  # seen twice: recompressed at the cache level after the second
                assert raw_get(first) == brotli.compress(APP_BODY, quality=4, lgwin=22)
            wait_for(stored, "the first process to store its level-11 entry")
        with serve("tests.cache_app:app", "uvicorn-h11", env=env, cwd=cwd) as second:
            got = raw_get(second)
        # Byte-identical to a fresh encoding at the cache level, by the brotli library.
        assert got == brotli.compress(APP_BODY, quality=11, lgwin=22)
    finally:
        if client is not None:
            client.close()
