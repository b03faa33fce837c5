"""RedisCache against a real redis-server: hits, TTL, size limit, failures and recovery.

One redis-server per session (tests/harness/redis_server.py), flushed before each test; the tests
that kill and restart a server start their own. redis-py's asyncio client runs on asyncio
only, so these tests do too; the trio test checks the documented fallback (an empty cache).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from asgi_compress import ResponseCache
from asgi_compress.cache import RedisCache
from asgi_compress.settings import Settings
from tests.harness import decode, text
from tests.harness.redis_server import RedisServer, redis_unavailable_reason

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        redis_unavailable_reason() is not None, reason=str(redis_unavailable_reason())
    ),
]
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])

BODY = text(30_000, seed=3)
ENCODERS = Settings.from_options().encoders


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


def sync_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


async def miss_then_hit(cache: ResponseCache, coding: str = "br") -> tuple[bool, bytes | None]:
    found = await cache.lookup(coding, BODY, ENCODERS[coding])
    if not found.hit:
        await cache.store(found, ENCODERS[coding]().finish(BODY))
    again = await cache.lookup(coding, BODY, ENCODERS[coding])
    return found.hit, again.encoded


@asyncio_only
async def test_entries_are_stored_and_hit(redis_url: str) -> None:
    backend = RedisCache(redis_url, timeout=2)
    second = RedisCache(redis_url, timeout=2)  # another worker on the same Redis
    try:
        with anyio.fail_after(10):
            was_hit, encoded = await miss_then_hit(ResponseCache(backend))
            other = await ResponseCache(second).lookup("br", BODY, ENCODERS["br"])
    finally:
        await backend.aclose()
        await second.aclose()
    assert not was_hit
    assert encoded is not None and decode("br", encoded) == BODY
    assert other.encoded == encoded


@asyncio_only
async def test_entries_carry_the_ttl_and_expire(redis_url: str) -> None:
    backend = RedisCache(redis_url, ttl=600, timeout=2)
    cache = ResponseCache(backend)
    client = sync_client(redis_url)
    try:
        with anyio.fail_after(10):
            await miss_then_hit(cache)
            (key,) = client.keys("asgi-compress:*")
            assert 0 < client.pttl(key) <= 600_000  # Redis's own view of the entry's TTL
            client.pexpire(key, 1)
            while client.exists(key):  # noqa: ASYNC110 - Redis has no expiry event to await
                await anyio.sleep(0.01)
            assert not (await cache.lookup("br", BODY, ENCODERS["br"])).hit
    finally:
        client.close()
        await backend.aclose()


@asyncio_only
async def test_oversized_entries_are_not_stored(redis_url: str) -> None:
    backend = RedisCache(redis_url, max_entry_size=100, timeout=2)
    client = sync_client(redis_url)
    try:
        with anyio.fail_after(10):
            was_hit, encoded = await miss_then_hit(ResponseCache(backend))
        assert (was_hit, encoded) == (False, None)
        assert client.keys("asgi-compress:*") == []
    finally:
        client.close()
        await backend.aclose()


@asyncio_only
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda v: v[: len(v) // 2], id="truncated"),
        pytest.param(lambda v: v[:-1] + bytes([v[-1] ^ 0x55]), id="last-byte"),
        pytest.param(lambda v: v[:68] + b"\x1f\x8b" + v[70:], id="replaced-bytes"),
    ],
)
async def test_a_tampered_entry_in_redis_is_never_served(redis_url: str, tamper: Any) -> None:
    backend = RedisCache(redis_url, timeout=2)
    cache = ResponseCache(backend)
    client = sync_client(redis_url)
    try:
        with anyio.fail_after(10):
            await miss_then_hit(cache)
            (key,) = client.keys("asgi-compress:*")
            client.set(key, tamper(client.get(key)), keepttl=True)
            assert not (await cache.lookup("br", BODY, ENCODERS["br"])).hit
    finally:
        client.close()
        await backend.aclose()


@asyncio_only
async def test_a_full_redis_skips_stores_and_keeps_serving_hits(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RedisCache(redis_url, timeout=2)
    cache = ResponseCache(backend)
    client = sync_client(redis_url)
    other = text(30_000, seed=4)
    try:
        with anyio.fail_after(10):
            await miss_then_hit(cache)  # stored while there is room
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", 1)  # now every write is refused with OOM
            with caplog.at_level(logging.WARNING, logger="asgi_compress"):
                found = await cache.lookup("br", other, ENCODERS["br"])
                assert await cache.store(found, ENCODERS["br"]().finish(other)) is False
            assert any("Redis is full" in r.getMessage() for r in caplog.records)
            # Reads still work: the earlier entry is served, and the circuit stays closed.
            assert (await cache.lookup("br", BODY, ENCODERS["br"])).hit
            assert backend.available
    finally:
        client.config_set("maxmemory", 0)
        client.close()
        await backend.aclose()


@asyncio_only
async def test_redis_killed_then_restarted(caplog: pytest.LogCaptureFixture) -> None:
    """Down: every lookup is a quick miss, logged once, never an error. Back: hits resume."""
    server = RedisServer().start()
    backend = RedisCache(server.url, timeout=0.5, retry_after=0, log_interval=3600)
    cache = ResponseCache(backend)
    try:
        with anyio.fail_after(20):
            was_hit, encoded = await miss_then_hit(cache)
            assert not was_hit and encoded is not None
            server.stop()
            with caplog.at_level(logging.WARNING, logger="asgi_compress"):
                for _ in range(5):
                    found = await cache.lookup("br", BODY, ENCODERS["br"])
                    assert not found.hit
                    assert await cache.store(found, ENCODERS["br"]().finish(BODY)) is False
            assert not backend.available
            warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
            assert len(warnings) == 1  # once per log_interval, not once per request
            server.start()
            # The restarted server is empty: a miss that stores, then hits again.
            was_hit, encoded = await miss_then_hit(cache)
            assert backend.available
            assert not was_hit
            assert encoded is not None and decode("br", encoded) == BODY
    finally:
        server.stop()
        await backend.aclose()


@asyncio_only
async def test_an_open_circuit_does_no_io_until_the_cool_down_ends() -> None:
    server = RedisServer().start()
    backend = RedisCache(server.url, timeout=0.5, retry_after=3600)
    cache = ResponseCache(backend)
    try:
        with anyio.fail_after(20):
            server.stop()
            await cache.lookup("br", BODY, ENCODERS["br"])
            assert not backend.available
            server.start()
            # Redis is back, but the circuit stays open for its cool-down: still misses.
            was_hit, encoded = await miss_then_hit(cache)
            assert (was_hit, encoded) == (False, None)
            client = sync_client(server.url)
            assert client.dbsize() == 0
            client.close()
    finally:
        server.stop()
        await backend.aclose()


@asyncio_only
async def test_a_redis_that_does_not_answer_costs_at_most_the_timeout() -> None:
    """A listener that accepts and never replies (a hung Redis): the lookup is a miss."""
    with anyio.fail_after(10):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        backend = RedisCache(f"redis://127.0.0.1:{port}/0", timeout=0.2)
        async with listener, anyio.create_task_group() as tg:

            async def hang(stream: anyio.abc.SocketStream) -> None:
                async with stream:
                    await anyio.sleep_forever()

            async def accept_and_hang() -> None:
                await listener.serve(hang)

            tg.start_soon(accept_and_hang)
            found = await ResponseCache(backend).lookup("br", BODY, ENCODERS["br"])
            await backend.aclose()
            tg.cancel_scope.cancel()
        assert not found.hit
        assert not backend.available


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_redis_is_an_empty_cache(caplog: pytest.LogCaptureFixture) -> None:
    backend = RedisCache("redis://127.0.0.1:1/0")
    with anyio.fail_after(5), caplog.at_level(logging.WARNING, logger="asgi_compress"):
        was_hit, encoded = await miss_then_hit(ResponseCache(backend))
    assert (was_hit, encoded) == (False, None)
    assert any("needs asyncio" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "option", [{"ttl": 0}, {"timeout": -1}, {"max_entry_size": 0}, {"retry_after": -1}]
)
def test_bad_redis_options_fail_at_construction(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(option))):
        RedisCache("redis://127.0.0.1:1/0", **option)
