"""The default cache (issue 18): what it holds at its bound, and what it saves per request.

- Memory: a ``DictCache()`` (the middleware's default, ``DEFAULT_CACHE_BYTES``) filled past
  its bound with real entries (the br-11 of distinct ~100 KB JSON bodies, framed as the
  cache stores them), measured with tracemalloc; and the sightings record at its bound.
- Requests: a repeated ~100 KB JSON body, and unique ones, driven in-process through
  ``CompressMiddleware(cache=None)`` (before) and the default (after), Accept-Encoding br,
  in interleaved rounds. CPU is the process's (``time.process_time``: the loop's thread and
  the recompression's worker thread); responses/s is over the wall time of a round.

Run: ``python -m benchmarks.hot_cache`` (one run, under a minute on 2 cores).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import anyio
import brotli

from asgi_compress import CompressMiddleware, DictCache
from asgi_compress.cache import DEFAULT_CACHE_BYTES
from asgi_compress.cache._entry import pack
from asgi_compress.cache._sightings import DEFAULT_SIGHTINGS, Sightings

from ._common import Budget, Report, Table, fmt, write_results
from .payloads import _json_of_size, json_api_response, json_document

_HEAD = [(b"content-type", b"application/json")]


def _app(bodies: Callable[[], bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        data = bodies()
        await send({"type": "http.response.start", "status": 200, "headers": _HEAD})
        await send({"type": "http.response.body", "body": data})

    return app


async def _request(app: Any) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/orders",
        "root_path": "",
        "headers": [(b"accept-encoding", b"br")],
    }
    out = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal out
        out += len(message.get("body", b""))

    await app(scope, receive, send)
    return out


def memory_table() -> Table:
    table = Table(
        "Memory of the default cache at its bound",
        ["what", "entries", "entry bytes", "counted (MiB)", "allocated (MiB)"],
    )
    sizes = (
        ("br-11 of json-100k", len(brotli.compress(json_api_response(), quality=11))),
        ("br-11 of json-1m", len(brotli.compress(json_document(), quality=11))),
    )
    for label, size in sizes:
        gc.collect()
        tracemalloc.start()
        cache = DictCache()
        digest = bytes(32)
        for i in range(DEFAULT_CACHE_BYTES // size + 50):  # past the bound: evicting
            key = f"acz1-br-{i:064x}"
            value = pack(b"", key, digest, bytes([i % 251]) * size)
            cache.set(key, value)
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        table.add(
            label,
            f"{len(cache):,}",
            f"{size:,}",
            fmt(cache.size / 2**20, 1),
            fmt(current / 2**20, 1),
        )
        del cache
    gc.collect()
    tracemalloc.start()
    sightings = Sightings()
    for i in range(DEFAULT_SIGHTINGS + 100):
        sightings.note(hash((f"acz1-br-{i:064x}", bytes(32))))
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    table.add("sightings record", f"{len(sightings):,}", "-", "-", fmt(current / 2**20, 2))
    table.notes.append(
        f"DictCache() bound: {DEFAULT_CACHE_BYTES // 2**20} MiB per worker; 'counted' is what "
        "DictCache charges (keys, values, ENTRY_OVERHEAD), 'allocated' what tracemalloc saw."
    )
    return table


async def _rounds(
    name: str, bodies: Callable[[], Callable[[], bytes]], rounds: int, per_round: int
) -> list[list[str]]:
    before = CompressMiddleware(_app(bodies()), cache=None)
    after = CompressMiddleware(_app(bodies()))
    results: dict[str, list[tuple[float, float, int]]] = {"before": [], "after": []}
    for app in (before, after):  # warm-up: the repeated body gets promoted in "after"
        for _ in range(3):
            await _request(app)
    for r in range(rounds):
        order = [("before", before), ("after", after)]
        if r % 2:
            order.reverse()
        for label, app in order:
            cpu, wall, out = time.process_time(), time.perf_counter(), 0
            for _ in range(per_round):
                out = await _request(app)
            results[label].append((time.process_time() - cpu, time.perf_counter() - wall, out))
    rows = []
    for label in ("before", "after"):
        cpu = sorted(c for c, _, _ in results[label])[rounds // 2] / per_round
        wall = sorted(w for _, w, _ in results[label])[rounds // 2] / per_round
        rows.append(
            [name, label, fmt(cpu * 1e6, 0), fmt(1 / wall, 0), f"{results[label][-1][2]:,}"]
        )
    return rows


async def requests_table() -> Table:
    table = Table(
        "A repeated ~100 KB JSON body, in-process (br)",
        ["body", "cache", "CPU us/response", "responses/s", "bytes out"],
    )
    body = json_api_response()
    for row in await _rounds("repeated", lambda: lambda: body, rounds=7, per_round=200):
        table.add(*row)
    # Unique bodies, made before anything is timed: 3 warm-up + 7 rounds of 30 per app.
    seeds = iter(range(10_000, 10**9))

    def unique() -> Callable[[], bytes]:
        made = [_json_of_size(next(seeds), 100_000, indent=None) for _ in range(213)]
        return iter(made).__next__

    for row in await _rounds("unique", unique, rounds=7, per_round=30):
        table.add(*row)
    table.notes.append(
        "before: CompressMiddleware(cache=None), br-4 every time; after: the default cache "
        "(DictCache 32 MiB, br 11 once the body is seen twice). Median of interleaved rounds."
    )
    table.notes.append(
        "unique: a different body for every request (made before timing): the default cache "
        "adds a SHA-256, a lookup and a sighting, and never recompresses."
    )
    return table


def run(budget: Budget) -> Report:
    """The ``hot_cache`` section of ``python -m benchmarks``."""
    del budget  # one fixed set of rounds: the table compares runs side by side
    tables = [memory_table(), anyio.run(requests_table)]
    write_results("hot_cache", "The default cache (issue 18)", tables)
    return Report("hot_cache", tables)


if __name__ == "__main__":
    run(Budget.from_env())
