"""Profile the middleware's hot path: where does a request's time go besides the codec?

Driven in process as in ``inprocess.py``: a one-shot 100 KB JSON body (zstd, the codec where
the middleware's own cost weighs most; as shipped and inline), the 256 x 4 KiB stream (zstd),
a request without Accept-Encoding and a body below ``min_size``. For each, cProfile's
deterministic view (calls and own time per request, top functions by own time) goes to the
markdown table; when pyinstrument is installed, its call tree goes to
``results/profiling-<case>.txt``.

cProfile adds a fixed cost to every Python call, so the absolute microseconds are inflated;
the call counts per request show the per-message work (a coroutine counts one call per
resumption, so one that awaits a thread hand-off shows more than one call per request).

Run: ``python -m benchmarks profiling`` (or ``python -m benchmarks.profiling``).
"""

from __future__ import annotations

import cProfile
import importlib
import pstats
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from asgi_compress import CompressMiddleware

from ._common import RESULTS, Budget, Report, Table, fmt, write_results
from .inprocess import BROWSER_AE, CountingSend, make_scope, oneshot_app, receive, stream_app
from .payloads import json_api_response, json_document, small_json

__all__ = ["run"]

_TOP = 14


def _cases(budget: Budget) -> dict[str, tuple[Callable[[], Awaitable[None]], int]]:
    body = json_api_response()
    doc = json_document()
    pieces = [doc[i * 4096 : (i + 1) * 4096] for i in range(256)]
    send = CountingSend()
    scale = 1 if budget.quick else 3

    def driver(
        app: Callable[..., Awaitable[None]], ae: str | None
    ) -> Callable[[], Awaitable[None]]:
        scope = make_scope(ae)

        async def call() -> None:
            await app(scope, receive, send)

        return call

    oneshot = oneshot_app(body, b"application/json")
    small = oneshot_app(small_json(), b"application/json")
    return {
        "one-shot 100 KB JSON, zstd, as shipped": (
            driver(CompressMiddleware(oneshot), "zstd"), 300 * scale),
        "one-shot 100 KB JSON, zstd, inline": (
            driver(CompressMiddleware(oneshot, thread_min_size=1 << 62), "zstd"), 300 * scale),
        "stream 256 x 4 KiB, zstd": (
            driver(CompressMiddleware(stream_app(pieces, b"application/json")), "zstd"),
            30 * scale),
        "no Accept-Encoding, 100 KB JSON": (driver(CompressMiddleware(oneshot), None),
                                            20_000 * scale),
        "below min_size (67 B), browser Accept-Encoding": (
            driver(CompressMiddleware(small), BROWSER_AE), 20_000 * scale),
    }  # fmt: skip


def _label(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    parts = path.parts
    short = (
        "/".join(parts[parts.index("asgi_compress") :]) if "asgi_compress" in parts else path.name
    )
    return f"{short}:{line} {name}"


async def _profile(call: Callable[[], Awaitable[None]], n: int) -> pstats.Stats:
    for _ in range(min(n, 50)):
        await call()  # warm-up: caches, the worker thread
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        await call()
    profiler.disable()
    return pstats.Stats(profiler)


def _pyinstrument(name: str, call: Callable[[], Awaitable[None]], n: int) -> Path | None:
    try:
        pyinstrument = importlib.import_module("pyinstrument")
    except ImportError:
        return None
    profiler = pyinstrument.Profiler(interval=0.0001, async_mode="disabled")

    async def many() -> None:
        for _ in range(n):
            await call()

    profiler.start()
    anyio.run(many)
    profiler.stop()
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    path = RESULTS / f"profiling-{slug}.txt"
    RESULTS.mkdir(exist_ok=True)
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return path


def run(budget: Budget) -> Report:
    tables = []
    written = []
    for name, (call, n) in _cases(budget).items():
        stats = anyio.run(_profile, call, n)
        entries = stats.stats  # type: ignore[attr-defined]
        total = sum(tt for _, _, tt, _, _ in entries.values())
        table = Table(
            f"Profile: {name} ({n:,} requests, {total / n * 1e6:.1f} us/request under cProfile)",
            ["function", "calls/request", "own us/request", "cumulative us/request", "own share"],
        )
        ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)
        for key, (_, calls, own, cumulative, _) in ranked[:_TOP]:
            table.add(_label(key), fmt(calls / n, 1), fmt(own / n * 1e6, 2),
                      fmt(cumulative / n * 1e6, 2), f"{own / total:.1%}")  # fmt: skip
        tables.append(table)
        path = _pyinstrument(name, call, n)
        if path is not None:
            written.append(path.name)
    if written:
        tables[-1].notes.append("pyinstrument call trees: " + ", ".join(written))
    report = Report("profiling", tables)
    write_results("profiling", "Profile of the middleware's hot path", tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())
