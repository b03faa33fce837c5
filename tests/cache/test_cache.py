"""The compression cache: addressing, integrity, cache levels, DictCache and DirectoryCache.

Everything here goes through the public seam (:class:`ResponseCache`) and the backends' own
``get``/``set``; what is served is decoded with an independent decoder. Redis has its own
file (test_cache_redis.py); the responder's use of the seam, test_cache_wiring.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import brotli
import pytest

from asgi_compress import CompressMiddleware, DictCache, DirectoryCache, ResponseCache, cacheable
from asgi_compress.cache import CacheBackend, CacheLookup
from asgi_compress.cache._log import ThrottledLog
from asgi_compress.codecs.encoders import Encoder
from asgi_compress.settings import Settings
from tests.harness import REPO, decode, gzip_bytes, text

BODY = text(20_000, seed=1)
OTHER = text(20_000, seed=2)
ENCODERS = Settings.from_options().encoders  # the default parameters, as the middleware builds them


async def roundtrip(cache: ResponseCache, coding: str, body: bytes, **kw: Any) -> CacheLookup:
    """Look ``body`` up; on a miss, encode it at the normal level and store it."""
    found = await cache.lookup(coding, body, ENCODERS[coding], **kw)
    if not found.hit:
        await cache.store(found, ENCODERS[coding]().finish(body))
    return found


# -- addressing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip", "deflate"])
async def test_a_stored_body_is_hit_and_decodes_to_itself(coding: str) -> None:
    cache = ResponseCache(DictCache())
    with anyio.fail_after(5):
        first = await roundtrip(cache, coding, BODY)
        second = await cache.lookup(coding, BODY, ENCODERS[coding])
    assert not first.hit
    assert second.hit and second.encoded is not None
    assert decode(coding, second.encoded) == BODY


async def test_a_different_body_coding_or_level_misses() -> None:
    cache = ResponseCache(DictCache())
    with anyio.fail_after(5):
        await roundtrip(cache, "gzip", BODY)
        assert (await cache.lookup("gzip", BODY, ENCODERS["gzip"])).hit
        assert not (await cache.lookup("gzip", OTHER, ENCODERS["gzip"])).hit
        assert not (await cache.lookup("deflate", BODY, ENCODERS["deflate"])).hit
        level9 = Settings.from_options(level=9).encoders["gzip"]
        assert not (await cache.lookup("gzip", BODY, level9)).hit


async def test_two_bodies_under_one_slot_never_get_each_others_bytes() -> None:
    """Flask-Compress's cache_key names the slot; the body's digest decides what is served."""
    cache = ResponseCache(DictCache())
    with anyio.fail_after(5):
        for body, other in ((BODY, OTHER), (OTHER, BODY), (BODY, OTHER)):
            await roundtrip(cache, "br", body, slot="/page")
            found = await cache.lookup("br", body, ENCODERS["br"], slot="/page")
            assert found.encoded is not None and decode("br", found.encoded) == body
            stale = await cache.lookup("br", other, ENCODERS["br"], slot="/page")
            assert not stale.hit


async def test_a_slot_and_the_digest_address_are_different_entries() -> None:
    cache = ResponseCache(DictCache())
    with anyio.fail_after(5):
        await roundtrip(cache, "br", BODY, slot="/a")
        assert not (await cache.lookup("br", BODY, ENCODERS["br"])).hit
        assert not (await cache.lookup("br", BODY, ENCODERS["br"], slot="/b")).hit


# -- integrity -----------------------------------------------------------------------------------


def _truncated(value: bytes) -> bytes:
    return value[: len(value) // 2]


def _bit_flipped(value: bytes) -> bytes:
    return value[:-10] + bytes([value[-10] ^ 1]) + value[-9:]


def _other_bytes_same_frame(value: bytes) -> bytes:
    """The frame kept, the encoded bytes replaced by a valid gzip of another body."""
    return value[:68] + gzip_bytes(OTHER)


TAMPERS = [
    pytest.param(_truncated, id="truncated"),
    pytest.param(_bit_flipped, id="bit-flipped"),
    pytest.param(_other_bytes_same_frame, id="replaced"),
    pytest.param(lambda value: b"", id="emptied"),
    pytest.param(lambda value: gzip_bytes(OTHER), id="raw-bytes"),
]


@pytest.mark.parametrize("tamper", TAMPERS)
async def test_a_tampered_entry_in_memory_is_never_served(tamper: Callable[[bytes], bytes]) -> None:
    backend = DictCache()
    cache = ResponseCache(backend)
    with anyio.fail_after(5):
        found = await roundtrip(cache, "gzip", BODY)
        stored = backend.get(found.key)
        assert stored is not None
        backend.set(found.key, tamper(stored))
        again = await cache.lookup("gzip", BODY, ENCODERS["gzip"])
    assert not again.hit


async def test_an_entry_moved_to_another_address_is_never_served() -> None:
    backend = DictCache()
    cache = ResponseCache(backend)
    with anyio.fail_after(5):
        a = await roundtrip(cache, "gzip", BODY, slot="/a")
        b = await cache.lookup("gzip", BODY, ENCODERS["gzip"], slot="/b")
        value = backend.get(a.key)
        assert value is not None
        backend.set(b.key, value)
        assert not (await cache.lookup("gzip", BODY, ENCODERS["gzip"], slot="/b")).hit


async def test_entries_forged_without_the_secret_are_never_served() -> None:
    backend = DictCache()
    forger = ResponseCache(backend)  # can write to the backend, does not know the secret
    cache = ResponseCache(backend, secret=b"s3cret")
    with anyio.fail_after(5):
        await roundtrip(forger, "gzip", BODY)
        assert not (await cache.lookup("gzip", BODY, ENCODERS["gzip"])).hit
        await roundtrip(cache, "gzip", BODY)
        assert (await cache.lookup("gzip", BODY, ENCODERS["gzip"])).hit


# -- backends of any shape -----------------------------------------------------------------------


class AsyncBackend:
    """An aiocache-style backend: coroutine methods."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        return self.data.get(key)

    async def set(self, key: str, value: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self.data[key] = value


class FailingBackend:
    def get(self, key: str) -> bytes | None:
        raise ConnectionError("cache is down")

    def set(self, key: str, value: bytes) -> None:
        raise ConnectionError("cache is down")


async def test_an_async_backend_works_like_a_sync_one() -> None:
    cache = ResponseCache(AsyncBackend())
    with anyio.fail_after(5):
        await roundtrip(cache, "zstd", BODY)
        found = await cache.lookup("zstd", BODY, ENCODERS["zstd"])
    assert found.encoded is not None and decode("zstd", found.encoded) == BODY


async def test_a_failing_backend_is_a_logged_miss(caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(FailingBackend())
    with anyio.fail_after(5), caplog.at_level(logging.WARNING, logger="asgi_compress"):
        found = await cache.lookup("br", BODY, ENCODERS["br"])
        stored = await cache.store(found, ENCODERS["br"]().finish(BODY))
    assert not found.hit
    assert stored is False
    messages = [r.getMessage() for r in caplog.records]
    assert any("get() failed" in m for m in messages)
    assert any("set() failed" in m for m in messages)


# -- cache levels --------------------------------------------------------------------------------


async def test_store_recompresses_at_the_cache_level() -> None:
    cache = ResponseCache(DictCache(), levels={"br": 11, "gzip": 9})
    with anyio.fail_after(30):
        for coding in ("br", "gzip"):
            await roundtrip(cache, coding, BODY)
        br = await cache.lookup("br", BODY, ENCODERS["br"])
        gz = await cache.lookup("gzip", BODY, ENCODERS["gzip"])
    # Byte-identical to a fresh encoding at the cache level by the codec libraries themselves.
    assert br.encoded == brotli.compress(BODY, quality=11, lgwin=22)
    # gzip-9 is not always smaller than the normal level: the entry is the smaller of the two.
    normal = ENCODERS["gzip"]().finish(BODY)
    assert gz.encoded is not None and zlib.decompress(gz.encoded, 31) == BODY
    assert len(gz.encoded) <= len(normal)


class _GatedEncoder:
    """A gzip encoder whose ``finish`` waits for the test: makes "busy" observable."""

    encoding: ClassVar[str] = "gzip"
    started = threading.Event()
    release = threading.Event()

    def __init__(self, level: int) -> None:
        self.level = level

    def compress(self, chunk: bytes) -> bytes:
        raise NotImplementedError

    def flush(self, chunk: bytes = b"") -> bytes:
        raise NotImplementedError

    def finish(self, chunk: bytes = b"") -> bytes:
        type(self).started.set()
        assert type(self).release.wait(10), "the test never released the encoder"
        return gzip_bytes(chunk, self.level)


async def test_improvements_are_dropped_when_every_slot_is_busy() -> None:
    _GatedEncoder.started.clear()
    _GatedEncoder.release.clear()
    backend = DictCache()
    cache = ResponseCache(backend, levels={"gzip": 9}, improve_slots=1)
    factory: Callable[[], Encoder] = partial(_GatedEncoder, level=6)
    results: list[bool] = []
    with anyio.fail_after(10):
        first = await cache.lookup("gzip", BODY, factory)
        second = await cache.lookup("gzip", OTHER, factory)

        async def improve_first() -> None:
            results.append(await cache.store(first, None))

        async with anyio.create_task_group() as tg:
            tg.start_soon(improve_first)
            await anyio.to_thread.run_sync(_GatedEncoder.started.wait)
            # The only slot is taken: the second improvement returns at once, dropped.
            assert await cache.store(second, None) is False
            _GatedEncoder.release.set()
    assert results == [True]
    assert (await cache.lookup("gzip", BODY, factory)).hit
    assert not (await cache.lookup("gzip", OTHER, factory)).hit


@pytest.mark.parametrize(
    ("levels", "error", "match"),
    [
        pytest.param(
            {"br": 12}, ValueError, r"cache_levels\['br'\] must be in 0\.\.11", id="br-12"
        ),
        pytest.param({"gzip": 10}, ValueError, r"cache_levels\['gzip'\]", id="gzip-10"),
        pytest.param({"zstd": 23}, ValueError, r"cache_levels\['zstd'\]", id="zstd-23"),
        pytest.param({"lzma": 9}, ValueError, r"unknown coding 'lzma'", id="unknown"),
        pytest.param({"br": "11"}, TypeError, r"must be an int", id="str-level"),
        pytest.param([("br", 11)], TypeError, r"cache_levels must be a dict", id="not-a-dict"),
    ],
)
def test_bad_cache_levels_fail_at_construction(levels: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CompressMiddleware(_app, cache=DictCache(), cache_levels=levels)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"cache": None, "cache_levels": {"br": 11}},
            r"cache_levels needs a cache",
            id="no-cache",
        ),
        pytest.param({"cache": object()}, r"get\(\) and set\(\)", id="not-a-backend"),
        pytest.param({"cache": DictCache(), "cache_max_size": -1}, r"cache_max_size", id="size"),
    ],
)
def test_bad_cache_options_name_the_setting(kwargs: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        CompressMiddleware(_app, **kwargs)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


# -- what may be cached --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([], True, id="plain"),
        pytest.param([(b"cache-control", b"public, max-age=60")], True, id="public"),
        pytest.param([(b"cache-control", b"no-cache")], True, id="no-cache-revalidates"),
        pytest.param([(b"Cache-Control", b"max-age=0, No-Store")], False, id="no-store"),
        pytest.param([(b"cache-control", b'private="x"')], False, id="private-fields"),
        pytest.param([(b"cache-control", b"private")], False, id="private"),
        pytest.param([(b"Set-Cookie", b"sid=1; HttpOnly")], False, id="set-cookie"),
        pytest.param([(b"cache-control", b"x-no-store-ish")], True, id="lookalike-token"),
    ],
)
def test_cacheable_by_head(headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert cacheable(headers) is expected


# -- DictCache -----------------------------------------------------------------------------------


def test_dict_cache_counts_keys_and_overhead() -> None:
    """The issue's numbers: 4 KB keys used to grow a 1 MiB cache to 224 MiB."""
    cache = DictCache(max_bytes=1024 * 1024)
    for n in range(5_000):
        cache.set(f"/{n:04d}".ljust(4096, "x"), b"v")
    assert cache.size <= cache.max_bytes
    assert len(cache) * (4096 + 1) <= cache.max_bytes
    assert cache.get(f"/{4999:04d}".ljust(4096, "x")) == b"v"


def test_dict_cache_evicts_the_least_recently_used() -> None:
    cache = DictCache(max_bytes=3 * DictCache.cost("k0", b"x" * 100))
    for key in ("k0", "k1", "k2"):
        cache.set(key, b"x" * 100)
    assert cache.get("k0") is not None  # k0 is now the most recent: k1 goes first
    cache.set("k3", b"x" * 100)
    assert [cache.get(k) is not None for k in ("k0", "k1", "k2", "k3")] == [True, False, True, True]


def test_dict_cache_under_threads_stays_consistent() -> None:
    keys = [f"key-{n}" for n in range(64)]
    cache = DictCache(max_bytes=20 * DictCache.cost(keys[0], b"x" * 1000))
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        try:
            for i in range(3_000):
                key = keys[(seed * 7 + i) % len(keys)]
                if i % 3:
                    cache.get(key)
                else:
                    cache.set(key, bytes([seed]) * (500 + i % 1000))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    held = {key: value for key in keys if (value := cache.get(key)) is not None}
    assert cache.size == sum(DictCache.cost(k, v) for k, v in held.items())
    assert len(cache) == len(held)
    assert cache.size <= cache.max_bytes


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    for backend in (DictCache(), DirectoryCache(tmp_path)):
        assert isinstance(backend, CacheBackend)


# -- DirectoryCache ------------------------------------------------------------------------------


async def test_directory_cache_round_trip_and_survives_a_new_instance(tmp_path: Path) -> None:
    with anyio.fail_after(10):
        await roundtrip(ResponseCache(DirectoryCache(tmp_path)), "zstd", BODY)
        found = await ResponseCache(DirectoryCache(tmp_path)).lookup("zstd", BODY, ENCODERS["zstd"])
    assert found.encoded is not None and decode("zstd", found.encoded) == BODY


@pytest.mark.parametrize("tamper", TAMPERS)
async def test_a_tampered_file_is_never_served(
    tmp_path: Path, tamper: Callable[[bytes], bytes]
) -> None:
    backend = DirectoryCache(tmp_path)
    cache = ResponseCache(backend)
    with anyio.fail_after(10):
        found = await roundtrip(cache, "gzip", BODY)
        file = backend.file_for(found.key)
        file.write_bytes(tamper(file.read_bytes()))
        assert not (await cache.lookup("gzip", BODY, ENCODERS["gzip"])).hit


def _entries(root: Path) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and not f.name.startswith(".")]


def _stored_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in _entries(root))


def _on_disk(root: Path) -> int:
    """What the directory takes on disk: the allocated blocks of REPO and of everything
    under it, files and folders (what ``du`` counts)."""
    paths = [root, *root.rglob("*")]
    return sum(os.stat(p, follow_symlinks=False).st_blocks * 512 for p in paths)


async def test_directory_cache_stays_within_its_bound(tmp_path: Path) -> None:
    backend = DirectoryCache(tmp_path, max_bytes=100_000)
    with anyio.fail_after(10):
        for n in range(60):
            await backend.set(f"k{n}", bytes([n]) * 5_000)  # 300 KB written in all
        total = await anyio.to_thread.run_sync(_stored_bytes, tmp_path)
        assert total <= 100_000 * 11 // 10
        assert await backend.get("k59") == bytes([59]) * 5_000


async def test_directory_cache_bounds_the_disk_it_takes_not_the_bytes_written(
    tmp_path: Path,
) -> None:
    """Issue 16 item 3: 3,000 small bodies under a 200 KiB bound once took 8.97 MB of disk
    (a 4 KiB block each, and 256 shard folders). Counted in blocks, directories included,
    the directory never holds more than its bound, after every single store."""
    root = tmp_path / "cache"
    backend = DirectoryCache(root, max_bytes=200 * 1024)
    worst = 0
    with anyio.fail_after(60):
        for n in range(1_000):
            await backend.set(f"k{n}", bytes([n % 256]) * 63)
            worst = max(worst, await anyio.to_thread.run_sync(_on_disk, root))
        last = await backend.get("k999")
    assert worst <= 200 * 1024
    assert last == bytes([999 % 256]) * 63
    # Near the bound, not far below it: at least 40 of the ~49 blocks that fit hold entries.
    assert len(_entries(root)) >= 40


async def test_a_sharded_directory_of_an_older_version_is_swept_into_the_bound(
    tmp_path: Path,
) -> None:
    """Entries in REPO/ab/ folders (the layout before) are evicted like the others, and
    their folders removed once empty, so the bound holds from the first sweep."""
    root = tmp_path / "cache"
    for n in range(300):
        shard = root / f"{n:02x}"[-2:]
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"old{n}").write_bytes(b"o" * 100)
        os.utime(shard / f"old{n}", (1_000_000 + n, 1_000_000 + n))  # older than any new one
    backend = DirectoryCache(root, max_bytes=100 * 1024)
    with anyio.fail_after(30):
        await backend.set("new", b"n" * 100)
        assert await backend.get("new") == b"n" * 100
    assert await anyio.to_thread.run_sync(_on_disk, root) <= 100 * 1024
    assert [d for d in root.iterdir() if d.is_dir() and not any(d.iterdir())] == []


async def test_a_failing_directory_is_logged_once_per_interval_not_per_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk logged a traceback for every failed store (240 lines in 3 s). Here every
    store fails for real: a regular file stands where the directory was (ENOTDIR, which
    permissions cannot prevent for root)."""
    root = tmp_path / "cache"
    cache = ResponseCache(DirectoryCache(root), log_interval=3600)
    root.rmdir()
    root.write_bytes(b"not a directory")
    with anyio.fail_after(30), caplog.at_level(logging.WARNING, logger="asgi_compress"):
        for n in range(20):
            body = text(2_000, seed=100 + n)
            found = await cache.lookup("gzip", body, ENCODERS["gzip"])
            assert not found.hit
            assert await cache.store(found, ENCODERS["gzip"]().finish(body)) is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(r.getMessage().split(";")[0] for r in warnings) == [
        "compression cache get() failed",
        "compression cache set() failed",
    ]
    assert all(r.exc_info is not None for r in warnings)  # the first one keeps its traceback


def test_a_throttled_warning_comes_back_after_its_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("asgi_compress"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="asgi_compress"):
        logged = [log.warning("set", "set failed") for _ in range(5)]
        logged.append(log.warning("get", "get failed"))  # each kind has its own interval
        now[0] = 59.9
        logged.append(log.warning("set", "set failed"))
        now[0] = 60.0
        logged.append(log.warning("set", "set failed"))
    assert logged == [True, False, False, False, False, True, False, True]
    assert [r.getMessage() for r in caplog.records] == [
        "set failed",
        "get failed",
        "set failed (5 more like it since the last warning)",
    ]


async def test_directory_sweep_removes_the_least_recently_used(tmp_path: Path) -> None:
    block = os.statvfs(tmp_path).f_bsize  # entries count in blocks; REPO takes one
    backend = DirectoryCache(tmp_path, max_bytes=11 * block + block // 4)
    with anyio.fail_after(10):
        for n in range(4):  # 1 + 4 * 2 blocks
            await backend.set(f"k{n}", b"x" * (2 * block - 100))
        for n in range(4):  # make the order explicit: k2 is the oldest, then k0
            mtime = {2: 1_000_000, 0: 2_000_000}.get(n, 3_000_000 + n)
            os.utime(backend.file_for(f"k{n}"), (mtime, mtime))
        # 12 blocks: over the bound, swept down to 90% of it (10.1 blocks) by removing k2
        await backend.set("k4", b"x" * (3 * block - 100))
        present = [await backend.get(f"k{n}") is not None for n in range(5)]
    assert present == [True, True, False, True, True]


def _write_entries(path: str, prefix: str) -> None:
    """In another process: fill a shared DirectoryCache."""
    import anyio as anyio_

    from asgi_compress import DirectoryCache as Directory

    async def main() -> None:
        backend = Directory(path, max_bytes=200_000)
        for n in range(150):
            await backend.set(f"{prefix}{n}", (prefix.encode() * 4000)[:4000])

    anyio_.run(main)


def test_two_processes_share_one_directory_within_its_bound(tmp_path: Path) -> None:
    code = (
        "import sys; from tests.cache.test_cache import _write_entries;"
        " _write_entries(*sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), prefix], env=env)
        for prefix in ("a", "b")
    ]
    assert [w.wait(60) for w in writers] == [0, 0]
    files = _entries(tmp_path)
    # Each process may overshoot by a tenth of the bound between its sweeps.
    assert _on_disk(tmp_path) <= 200_000 * 12 // 10
    assert not list(tmp_path.glob(".tmp-*"))
    # Every surviving file is whole: one writer's value, never a mix or a fragment.
    assert {f.read_bytes() for f in files} <= {b"a" * 4000, b"b" * 4000}
    assert files
