"""The default cache: compress once, and only bodies that come back at the best level.

A middleware built without ``cache=`` keeps a DictCache of its own. A body's first response
goes out at the normal level and costs no more; its second one too, and after it the body
is recompressed once at its cache level, on a worker thread; from the third on the cache
serves those bytes. A body seen once is never recompressed.

What is observed, from outside: the bytes (decoded with brotli / zstd / zlib, compared with
the codec libraries' own output at the level), the encoders the middleware makes (through
the public registry, tests/harness/tracked.py: one per codec run), the ``cached`` flag of the
``on_response`` report, and the entries in the cache's backend. The recompression runs in
the request's own task after its last byte went out, so when ``run`` returns it is done:
the order is the requests', never a timing.
"""

from __future__ import annotations

import json
import sys
import zlib
from typing import Any

import anyio
import brotli
import pytest
from quart import Quart

from asgi_compress import (
    Compress,
    CompressionReport,
    CompressMiddleware,
    DictCache,
    ResponseCache,
)
from asgi_compress.cache import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_LEVELS
from asgi_compress.settings import Settings
from tests.harness import app_sending, body, decode, make_scope, run, start
from tests.harness.tracked import EncoderTracker

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

quart_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def json_body(size: int, seed: int) -> bytes:
    """An API's list of records, ``size`` bytes or a little more (deterministic)."""
    rows, data = [], b""
    i = 0
    while len(data) < size:
        rows.append({"id": seed * 100_000 + i, "name": f"item-{i % 97}", "price": i % 13 * 1.5})
        i += 1
        if i % 64 == 0:
            data = json.dumps(rows).encode()
    return json.dumps(rows).encode()


BODY = json_body(100_000, seed=1)
BR4 = brotli.compress(BODY, quality=4, lgwin=22)  # the normal level
BR11 = brotli.compress(BODY, quality=11, lgwin=22)  # the cache level, by the brotli library


class Reports(list[CompressionReport]):
    def __call__(self, report: CompressionReport) -> None:
        self.append(report)


def hot_app(messages: list[Any], **kwargs: Any) -> tuple[CompressMiddleware, Reports]:
    reports = Reports()
    return CompressMiddleware(app_sending(messages), on_response=reports, **kwargs), reports


def backend_of(app: CompressMiddleware) -> DictCache:
    assert app.cache is not None
    backend = app.cache.backend
    assert isinstance(backend, DictCache)
    return backend


def test_the_default_cache_is_a_bounded_dict_cache_at_the_best_levels() -> None:
    app = CompressMiddleware(app_sending([]))
    assert app.cache is not None
    assert backend_of(app).max_bytes == DEFAULT_CACHE_BYTES == 32 * 1024 * 1024
    assert app.cache.levels == dict(DEFAULT_CACHE_LEVELS) == {"br": 11, "zstd": 19, "gzip": 9}
    assert app.cache.promote_after == 2
    # Two middlewares never share one.
    assert backend_of(CompressMiddleware(app_sending([]))) is not backend_of(app)


async def test_a_body_seen_once_goes_out_at_the_normal_level_and_is_not_recompressed(
    encoders: EncoderTracker,
) -> None:
    app, reports = hot_app([start(content_type="application/json"), body(BODY)])
    with anyio.fail_after(30):
        first = await run(app, accept_encoding="br")
    assert first.body == BR4
    assert len(encoders.made) == 1  # the response's own codec run, no other
    assert len(backend_of(app)) == 0
    assert [r.cached for r in reports] == [False]


async def test_a_body_seen_twice_is_recompressed_once_at_the_best_level_then_served(
    encoders: EncoderTracker,
) -> None:
    app, reports = hot_app([start(content_type="application/json"), body(BODY)])
    with anyio.fail_after(60):
        first = await run(app, accept_encoding="br")
        second = await run(app, accept_encoding="br")
        made_by_two = len(encoders.made)
        later = [await run(app, accept_encoding="br") for _ in range(3)]
    assert first.body == second.body == BR4
    assert made_by_two == 3  # two responses at the normal level, one recompression
    assert len(encoders.made) == 3  # the hits run no codec
    assert len(backend_of(app)) == 1
    for got in later:
        assert got.body == BR11
        assert brotli.decompress(got.body) == BODY
        assert got.headers["content-length"] == str(len(BR11))
    assert [r.cached for r in reports] == [False, False, True, True, True]
    assert len(BR11) < len(BR4)


async def test_a_body_sent_in_messages_without_a_length_is_promoted_like_one_message(
    encoders: EncoderTracker,
) -> None:
    # An export built in memory and sent in parts: answered whole (it ends within the hold),
    # so it is as cacheable as the same body sent in one message.
    third = len(BODY) // 3
    parts = [BODY[:third], BODY[third : 2 * third], BODY[2 * third :]]
    messages = [start(content_type="application/json")]
    messages += [body(part, more=True) for part in parts] + [body()]
    app, reports = hot_app(messages)
    with anyio.fail_after(60):
        sent = [await run(app, accept_encoding="br") for _ in range(3)]
    assert sent[0].body == sent[1].body == BR4
    assert sent[2].body == BR11 and brotli.decompress(sent[2].body) == BODY
    assert sent[2].headers["content-length"] == str(len(BR11))
    assert len(encoders.made) == 3  # two at the normal level, one recompression
    assert [r.cached for r in reports] == [False, False, True]


@pytest.mark.parametrize("coding", ["zstd", "gzip"])
async def test_zstd_and_gzip_are_promoted_to_their_best_level(
    coding: str, encoders: EncoderTracker
) -> None:
    app, reports = hot_app([start(content_type="application/json"), body(BODY)])
    with anyio.fail_after(60):
        sent = [await run(app, accept_encoding=coding) for _ in range(3)]
    assert len(encoders.made) == 3  # two at the normal level, one recompression
    assert [r.cached for r in reports] == [False, False, True]
    normal = sent[0].body
    assert sent[1].body == normal and decode(coding, normal) == BODY
    if coding == "zstd":
        best = zstd.compress(BODY, level=19)
        assert zstd.decompress(sent[2].body) == BODY
        assert len(sent[2].body) <= len(best) + 16  # frame flags may differ, not the level
        assert len(sent[2].body) < len(normal)
    else:
        # gzip-9 is not always smaller than the normal level: the smaller is kept.
        assert zlib.decompress(sent[2].body, 31) == BODY
        assert len(sent[2].body) <= len(normal)


async def test_unique_bodies_are_never_recompressed(encoders: EncoderTracker) -> None:
    bodies = [json_body(20_000, seed=seed) for seed in range(2, 32)]
    reports = Reports()

    async def each_once(scope: Any, receive: Any, send: Any) -> None:
        await send(start(content_type="application/json"))
        await send(body(bodies[len(reports)]))

    app = CompressMiddleware(each_once, on_response=reports)
    with anyio.fail_after(60):
        for expected in bodies:
            got = await run(app, accept_encoding="br")
            assert got.body == brotli.compress(expected, quality=4, lgwin=22)
    assert len(encoders.made) == len(bodies)  # one codec run each, at the normal level
    assert len(backend_of(app)) == 0
    assert not any(r.cached for r in reports)


async def test_cache_none_turns_the_cache_off(encoders: EncoderTracker) -> None:
    app, reports = hot_app([start(content_type="application/json"), body(BODY)], cache=None)
    assert app.cache is None
    with anyio.fail_after(30):
        sent = [await run(app, accept_encoding="br") for _ in range(3)]
    assert [got.body for got in sent] == [BR4] * 3
    assert len(encoders.made) == 3
    assert not any(r.cached for r in reports)


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([start(headers=[("set-cookie", "sid=1")]), body(BODY)], id="set-cookie"),
        pytest.param([start(headers=[("cache-control", "no-store")]), body(BODY)], id="no-store"),
        pytest.param(
            [start(headers=[("cache-control", "private, max-age=60")]), body(BODY)], id="private"
        ),
    ],
)
async def test_what_is_never_cached_stays_uncached_by_default(
    messages: list[Any], encoders: EncoderTracker
) -> None:
    app, reports = hot_app(messages)
    with anyio.fail_after(60):
        sent = [await run(app, accept_encoding="br") for _ in range(3)]
    for got in sent:
        assert brotli.decompress(got.body) == BODY
        assert got.body != BR11
    assert len(encoders.made) == 3  # no recompression, however often it comes back
    assert len(backend_of(app)) == 0
    assert not any(r.cached for r in reports)


async def test_with_the_default_cache_an_etag_is_weak_and_the_app_gets_its_own_back() -> None:
    """RFC 9110 section 8.8.1: the bytes behind one tag change when the body is promoted, so
    the tag is weak; the W/ is ours, so the app's If-Match (strong) still sees its tag."""
    app_scope: list[Any] = []

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        app_scope.append(scope)
        await send(start(headers=[("etag", '"v1"')]))
        await send(body(BODY))

    app = CompressMiddleware(endpoint)
    with anyio.fail_after(30):
        got = await run(app, accept_encoding="br")
        assert got.headers["etag"] == 'W/"v1:br"'
        put = make_scope(method="PUT", headers=[("if-match", 'W/"v1:br"')], accept_encoding="br")
        await run(app, put)
    assert dict(app_scope[-1]["headers"])[b"if-match"] == b'"v1"'


async def test_a_body_forgotten_by_the_sightings_bound_starts_over() -> None:
    """The record of bodies seen once is bounded: a body that comes back after more other
    bodies than it holds counts as new again."""
    backend = DictCache()
    cache = ResponseCache(backend, levels={"gzip": 9}, promote_after=2, sightings=4)
    encoder = Settings().encoders["gzip"]
    others = [json_body(2_000, seed=seed) for seed in range(40, 45)]

    async def miss(data: bytes) -> bool:
        found = await cache.lookup("gzip", data, encoder)
        assert not found.hit
        return await cache.store(found, encoder().finish(data))

    with anyio.fail_after(30):
        assert await miss(BODY) is False  # first sighting
        for other in others:  # five other bodies push it out of a record of four
            assert await miss(other) is False
        assert await miss(BODY) is False  # counted as a first sighting again
        assert await miss(BODY) is True  # the second: recompressed and stored
    found = await cache.lookup("gzip", BODY, encoder)
    assert found.encoded is not None and zlib.decompress(found.encoded, 31) == BODY
    assert len(backend) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"promote_after": 0}, r"promote_after must be an int >= 1", id="zero"),
        pytest.param({"promote_after": True}, r"promote_after", id="bool"),
        pytest.param({"sightings": -1}, r"sightings must be an int >= 0", id="sightings"),
    ],
)
def test_bad_promotion_options_name_the_setting(kwargs: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ResponseCache(DictCache(), **kwargs)


@quart_asyncio
async def test_the_quart_extension_keeps_flask_compress_default_of_no_cache(
    encoders: EncoderTracker,
) -> None:
    app = Quart(__name__)
    compress = Compress(app)

    @app.route("/data")
    async def data() -> tuple[bytes, dict[str, str]]:
        return BODY, {"Content-Type": "application/json"}

    client = app.test_client()
    with anyio.fail_after(30):
        sent = []
        for _ in range(3):
            response = await client.get("/data", headers={"Accept-Encoding": "br"})
            assert response.headers["Content-Encoding"] == "br"
            sent.append(await response.get_data(as_text=False))
    assert compress.cache is None
    assert all(brotli.decompress(got) == BODY for got in sent)
    assert BR11 not in sent
    assert len(encoders.made) == 3
