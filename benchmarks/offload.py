"""Where a thread hand-off starts to pay: the sweep behind ``thread_min_size``'s default.

For chunk sizes from 1 KiB to 1 MiB and each coding at its default level, the same work (our
encoder's ``flush(chunk)``, as a streamed response does per message; consecutive chunks of
the 1 MiB JSON document, so no chunk repeats inside an encoder's window) is done:

- inline: on the event loop, which is blocked for all of it;
- handed off: ``await anyio.to_thread.run_sync(encoder.flush, chunk, limiter=...)`` with a
  limiter of its own, as the middleware does. ``wall`` is what the response waits; ``loop``
  is the CPU time the event-loop thread spends on it (``time.thread_time_ns``), i.e. the time
  the loop is taken from every other request;
- a no-op handed off the same way: the fixed price of a hand-off.

A hand-off pays for the loop once ``inline > loop``; it also pays for the response itself
(which waits ``wall`` instead of ``inline``) once ``inline`` exceeds the no-op's wall time by a
margin, since the codec then runs on another core while the loop keeps serving.

Run: ``python -m benchmarks offload``.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from anyio import CapacityLimiter

from asgi_compress import CompressMiddleware

from ._common import Budget, Check, Report, Table, fmt, median, rotated, write_results
from .payloads import json_document

__all__ = ["SIZES", "run"]

SIZES = tuple(1024 << i for i in range(11))  # 1 KiB .. 1 MiB
CODINGS = ("zstd", "br", "gzip", "deflate")


async def _noop_app(scope: object, receive: object, send: object) -> None:
    return None


class _ChunkFeed:
    """Consecutive ``size``-byte chunks of the document and an encoder that has not seen them:
    a fresh encoder whenever the document wraps around."""

    def __init__(self, coding: str, size: int) -> None:
        self._factory = CompressMiddleware(_noop_app).settings.encoders[coding]
        self._doc = json_document()
        self._size = size
        self._offset = 0
        self.encoder = self._factory()

    def next(self) -> bytes:
        if self._offset + self._size > len(self._doc):
            self._offset = 0
            self.encoder = self._factory()
        chunk = self._doc[self._offset : self._offset + self._size]
        self._offset += self._size
        return chunk


@dataclass
class Point:
    """Per-chunk medians in us: wall time, loop-thread CPU, whole-process CPU."""

    coding: str
    size: int
    inline_wall: float
    inline_cpu: float
    wall: float
    loop_cpu: float
    cpu: float
    noop_wall: float
    noop_loop_cpu: float
    noop_cpu: float

    @property
    def cpu_tax(self) -> float:
        """The CPU a hand-off adds, as a share of the work itself."""
        return (self.cpu - self.inline_cpu) / self.inline_cpu


def _noop() -> None:
    return None


_Clock = tuple[int, int, int]  # wall, this thread's CPU, the process's CPU (ns)


def _clock() -> _Clock:
    return time.perf_counter_ns(), time.thread_time_ns(), time.process_time_ns()


def _since(began: _Clock) -> _Clock:
    now = _clock()
    return now[0] - began[0], now[1] - began[1], now[2] - began[2]


async def _measure(coding: str, size: int, limiter: CapacityLimiter, budget: Budget) -> Point:
    feed = _ChunkFeed(coding, size)

    async def inline(n: int) -> _Clock:
        began = _clock()
        for _ in range(n):
            chunk = feed.next()
            feed.encoder.flush(chunk)
        return _since(began)

    async def handed_off(n: int) -> _Clock:
        began = _clock()
        for _ in range(n):
            chunk = feed.next()
            await anyio.to_thread.run_sync(feed.encoder.flush, chunk, limiter=limiter)
        return _since(began)

    async def noop(n: int) -> _Clock:
        began = _clock()
        for _ in range(n):
            await anyio.to_thread.run_sync(_noop, limiter=limiter)
        return _since(began)

    runners: dict[str, Callable[[int], Awaitable[_Clock]]] = {
        "inline": inline,
        "handoff": handed_off,
        "noop": noop,
    }
    sizes: dict[str, int] = {}
    for name, runner in runners.items():
        await runner(2)
        n = 1
        while (took := (await runner(n))[0]) < budget.batch_s * 1e9 * 0.5 and n < 1 << 16:
            n *= 4
        sizes[name] = max(1, round(n * budget.batch_s * 1e9 / max(took, 1)))
    samples: dict[str, list[_Clock]] = {name: [] for name in runners}
    rounds = budget.rounds if size < 256 * 1024 else max(3, budget.rounds // 2)
    gc.collect()
    gc.disable()
    try:
        for index in range(rounds):
            for name in rotated(list(runners), index):
                samples[name].append(await runners[name](sizes[name]))
    finally:
        gc.enable()

    def us(name: str, index: int) -> float:
        return median(sample[index] / sizes[name] / 1e3 for sample in samples[name])

    return Point(
        coding,
        size,
        us("inline", 0),
        us("inline", 2),
        us("handoff", 0),
        us("handoff", 1),
        us("handoff", 2),
        us("noop", 0),
        us("noop", 1),
        us("noop", 2),
    )


def _size(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"


def _bytes(size: float) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MiB"
    return f"{size / 1024:,.0f} KiB"


CPU_TAX = 0.05  # a hand-off may add at most this share of the chunk's own compression CPU
BLOCK_US = 1500.0  # the longest a chunk may hold the loop: under a third of the 5 ms "stall"


async def _main(budget: Budget) -> Report:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    limiter = CapacityLimiter(cpus)
    current = CompressMiddleware(_noop_app).settings.thread_min_size
    points = [await _measure(c, size, limiter, budget) for c in CODINGS for size in SIZES]
    sweep = Table(
        "Inline compression vs thread hand-off, per chunk (us)",
        ["coding", "chunk", "inline: loop blocked", "hand-off: wall", "hand-off: loop CPU",
         "hand-off: CPU added", "no-op hand-off: wall / loop CPU / CPU", "loop time saved"],
    )  # fmt: skip
    for p in points:
        sweep.add(
            p.coding,
            _size(p.size),
            fmt(p.inline_wall, 1),
            fmt(p.wall, 1),
            fmt(p.loop_cpu, 1),
            f"{fmt(p.cpu - p.inline_cpu, 1)} ({p.cpu_tax:+.0%})",
            f"{p.noop_wall:.0f} / {p.noop_loop_cpu:.0f} / {p.noop_cpu:.0f}",
            fmt(p.inline_wall - p.loop_cpu, 1),
        )
    sweep.notes += [
        "Each chunk is fed and flushed on an encoder that continues (as a streamed response); "
        "the hand-off is anyio.to_thread.run_sync with a limiter of "
        f"{cpus} threads, as the middleware's.",
        "loop CPU = CPU time of the event-loop thread; CPU = the whole process's (loop and "
        "worker threads); CPU added = hand-off CPU - inline CPU, and its share of the inline "
        "CPU. loop time saved = inline - hand-off loop CPU: what other requests gain.",
    ]
    verdict = Table(
        "Where the hand-off starts to pay (model fitted to the sweep)",
        ["coding", "inline speed MB/s", "hand-off fixed CPU us", "loop time saved > 0 from",
         f"hand-off adds <= {CPU_TAX:.0%} CPU from", f"inline blocks >= {BLOCK_US / 1e3:g} ms from",
         "measured at 64 / 128 KiB: inline us, CPU added"],
    )  # fmt: skip
    block_sizes: dict[str, float] = {}
    for coding in CODINGS:
        mine = [p for p in points if p.coding == coding]
        # Noise-robust figures: the codec's CPU per byte from chunks of 64 KiB and more, and
        # the hand-off's fixed CPU as the median of what it added over every size.
        us_per_byte = median(p.inline_cpu / p.size for p in mine if p.size >= 64 * 1024)
        fixed = median(p.cpu - p.inline_cpu for p in mine)
        loop_fixed = median(p.loop_cpu for p in mine if p.size <= 64 * 1024)
        block_sizes[coding] = BLOCK_US / us_per_byte
        at = {p.size: p for p in mine}
        p64, p128 = at[64 * 1024], at[128 * 1024]
        verdict.add(
            coding,
            fmt(1 / us_per_byte, 0),
            fmt(fixed, 0),
            _bytes(loop_fixed / us_per_byte),
            _bytes(fixed / (CPU_TAX * us_per_byte)),
            _bytes(BLOCK_US / us_per_byte),
            f"{p64.inline_wall:,.0f} us {p64.cpu_tax:+.0%}; {p128.inline_wall:,.0f} us "
            f"{p128.cpu_tax:+.0%}",
        )
    noop_wall = median(p.noop_wall for p in points)
    noop_loop = median(p.noop_loop_cpu for p in points)
    noop_cpu = median(p.noop_cpu for p in points)
    recommended = 1 << (int(min(block_sizes.values())).bit_length() - 1)
    slowest = min(block_sizes, key=lambda c: block_sizes[c])
    fastest = max(block_sizes, key=lambda c: block_sizes[c])
    shortest_us = recommended / block_sizes[fastest] * BLOCK_US
    longest_us = recommended / block_sizes[slowest] * BLOCK_US
    verdict.notes += [
        f"A no-op hand-off costs {noop_wall:.0f} us of wall time, {noop_loop:.0f} us of loop "
        f"CPU and {noop_cpu:.0f} us of CPU in all here (median over the sweep).",
        "Sizes are model estimates: inline CPU per byte (median over chunks >= 64 KiB) and the "
        "hand-off's fixed CPU (median over all sizes), so one noisy row cannot move them.",
        f"A single thread_min_size that keeps every inline chunk under {BLOCK_US / 1e3:g} ms of "
        f"loop time (the slowest default codec, {slowest}, decides): {_size(recommended)}, "
        "rounded down to a power of two. A chunk of that size takes "
        f"{shortest_us:,.0f} ({fastest}) to {longest_us:,.0f} us ({slowest}) to compress, so the "
        "hand-off's fixed cost is paid only where it is a small share; a per-coding threshold "
        f"(the 'adds <= {CPU_TAX:.0%} CPU' column) would keep fast codecs like zstd inline longer.",
        f"thread_min_size is {_size(current)} now.",
    ]
    checks = [
        Check(
            "thread_min_size default matches the sweep",
            f"now {_size(current)}; sweep suggests {_size(recommended)}",
            current == recommended,
        )
    ]
    return Report("offload", [sweep, verdict], checks)


def run(budget: Budget) -> Report:
    report = anyio.run(_main, budget)
    write_results("offload", "Thread offload threshold", report.tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())
