"""The compression cache: what a digest costs, what a hit costs, what cache levels save.

1. Digest against codec: SHA-256 and BLAKE2b of the body (the address of every entry)
   beside the default-level codecs, on 100 KB and 1 MiB JSON.
2. A hit, per backend: :meth:`ResponseCache.lookup` on a stored entry (digest, ``get``,
   HMAC check), in microseconds, beside encoding the body at the default level (a miss).
   DictCache in memory, DirectoryCache on a temporary directory, RedisCache on a local
   redis-server (skipped if it is not installed).
3. Bytes on the wire: each coding at its normal level against its cache level.
4. ``--load``: K=4 clients on the 1 MiB JSON with each backend, requests/s and ping p99,
   through benchmarks/eventloop.py's machinery (servers from benchmarks/_server.py's
   ``ours-cache-*`` middlewares).

Run: ``python -m benchmarks cache`` (1-3) or ``python -m benchmarks.cache --load`` (1-4).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from asgi_compress import DictCache, DirectoryCache, ResponseCache
from asgi_compress.settings import Settings

from ._common import Budget, Report, Table, fmt, median, time_sync_rounds, write_results
from .payloads import PAYLOADS

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parent.parent
CACHE_LEVELS = {"zstd": 19, "br": 11, "gzip": 9}
SETTINGS = Settings.from_options()


def digest_table(budget: Budget) -> Table:
    table = Table(
        "Digest against codec (one call on the whole body)",
        ["payload", "step", "us", "MB/s", "vs SHA-256"],
    )
    for name in ("json-100k", "json-1m"):
        body = PAYLOADS[name]()
        contenders: dict[str, Callable[[], object]] = {
            "SHA-256": partial(hashlib.sha256, body),
            "BLAKE2b": partial(hashlib.blake2b, body),
        }
        for coding in ("zstd", "br", "gzip"):
            contenders[f"{coding} default level"] = partial(
                _encode, SETTINGS.encoders[coding], body
            )
        ns = time_sync_rounds(contenders, budget)
        for step, value in ns.items():
            table.add(
                name,
                step,
                fmt(value / 1e3, 1),
                fmt(len(body) / value * 1e3, 0),
                fmt(value / ns["SHA-256"], 1),
            )
    table.notes.append("SHA-256 is what entries are addressed by (hashlib, OpenSSL).")
    return table


async def _time_async(call: Callable[[], Any], budget: Budget, n: int) -> float:
    """Median us per call over ``budget.rounds`` batches of ``n`` awaited calls."""
    samples = []
    for _ in range(budget.rounds):
        start = time.perf_counter_ns()
        for _ in range(n):
            await call()
        samples.append((time.perf_counter_ns() - start) / n / 1e3)
    return median(samples)


async def _hit_rows(budget: Budget, table: Table) -> None:
    from tests.harness.redis_server import RedisServer, redis_unavailable_reason

    server = None if redis_unavailable_reason() else RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            backends: dict[str, Any] = {
                "DictCache": DictCache(),
                "DirectoryCache": DirectoryCache(tmp),
            }
            if server is not None:
                from asgi_compress.cache import RedisCache

                backends["RedisCache"] = RedisCache(server.url, timeout=1)
            for name in ("json-100k", "json-1m"):
                body = PAYLOADS[name]()
                n = 50 if name == "json-100k" else 8
                for coding in ("br", "gzip"):
                    factory = SETTINGS.encoders[coding]
                    miss = await _time_async(partial(_finish, factory, body), budget, n)
                    for label, backend in backends.items():
                        cache = ResponseCache(backend)
                        found = await cache.lookup(coding, body, factory)
                        await cache.store(found, factory().finish(body))
                        assert (await cache.lookup(coding, body, factory)).hit
                        lookup = partial(cache.lookup, coding, body, factory)
                        hit = await _time_async(lookup, budget, n)
                        table.add(name, coding, label, fmt(hit, 0), fmt(miss, 0))
            for backend in backends.values():
                if hasattr(backend, "aclose"):
                    await backend.aclose()
    finally:
        if server is not None:
            server.stop()


def _encode(factory: Callable[[], Any], body: bytes) -> bytes:
    encoded: bytes = factory().finish(body)
    return encoded


async def _finish(factory: Callable[[], Any], body: bytes) -> bytes:
    encoded: bytes = factory().finish(body)
    return encoded


def hit_table(budget: Budget) -> Table:
    table = Table(
        "A hit: ResponseCache.lookup on a stored entry (digest + get + HMAC check)",
        ["payload", "coding", "backend", "hit us", "miss: encode at default level us"],
    )
    anyio.run(_hit_rows, budget, table, backend="asyncio")
    table.notes.append(
        "DirectoryCache reads on a worker thread; RedisCache is a local redis-server over TCP."
    )
    return table


def bytes_table() -> Table:
    table = Table(
        "Bytes on the wire: normal level against cache level",
        ["payload", "coding", "normal B", "cache level", "cache-level B", "saved"],
    )
    for name, make in PAYLOADS.items():
        body = make()
        for coding, level in CACHE_LEVELS.items():
            normal = len(SETTINGS.encoders[coding]().finish(body))
            cache = ResponseCache(DictCache(), levels={coding: level})
            better = len(_level_factory(cache, coding)().finish(body))
            table.add(
                name, coding, fmt(normal), str(level), fmt(better), f"{1 - better / normal:.1%}"
            )
    return table


def _level_factory(cache: ResponseCache, coding: str) -> Callable[[], Any]:
    from asgi_compress.cache.response import _at_level

    return _at_level(SETTINGS.encoders[coding], coding, cache.levels[coding])


def load_table(budget: Budget) -> Table:
    """K=4 clients on /big with each backend."""
    from tests.harness.redis_server import RedisServer, redis_unavailable_reason

    from . import eventloop

    server = None if redis_unavailable_reason() else RedisServer().start()
    tmp = tempfile.TemporaryDirectory()
    os.environ["BENCH_CACHE_DIR"] = tmp.name
    if server is not None:
        os.environ["BENCH_REDIS_URL"] = server.url
    conditions = [("no cache", "ours"), ("DictCache", "ours-cache-dict")]
    conditions.append(("DirectoryCache", "ours-cache-dir"))
    if server is not None:
        conditions.append(("RedisCache", "ours-cache-redis"))
    rounds = 2 if budget.quick else 3
    per_round = budget.load_s / rounds
    cells = [eventloop.Cell(label, "br", 4) for label, _ in conditions]
    servers: dict[str, Any] = {}
    workers: list[Any] = []
    try:
        for label, middleware in conditions:
            servers[label] = eventloop._Server(middleware, 60 + len(cells) * rounds * per_round)
        workers = [eventloop._Worker() for _ in range(5)]
        for _ in range(rounds):
            for cell in cells:
                eventloop._run_round(servers[cell.label], workers, cell, per_round)
    finally:
        for worker in workers:
            worker.close()
        for process in servers.values():
            process.close()
        if server is not None:
            server.stop()
        tmp.cleanup()
    table = Table(
        "uvicorn, 1 MiB JSON as br, K=4 clients + 1 pinger: each cache backend",
        ["backend", "/big resp/s", "body B", "server cores", "ping p50 ms", "ping p99 ms"],
    )
    for cell in cells:
        table.add(
            cell.label,
            fmt(cell.rps, 1),
            fmt(cell.body_bytes),
            fmt(cell.cores, 2),
            fmt(cell.ping_p50_ms, 2),
            fmt(cell.ping_p99_ms, 2),
        )
    return table


def run(budget: Budget, *, load: bool = False) -> Report:
    tables = [digest_table(budget), hit_table(budget), bytes_table()]
    if load:
        tables.append(load_table(budget))
    write_results("cache", "The compression cache", tables)
    return Report("cache", tables)


if __name__ == "__main__":
    run(Budget.from_env(), load="--load" in sys.argv[1:])
