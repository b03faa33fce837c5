"""Where a codec step runs: inline, or on a worker thread; and when the loop gets a turn.

Compressing inline blocks the event loop for as long as the codec works, and the cost of
that work depends on the coding and level far more than on the size: 128 KiB take ~1 ms at
gzip-6 and ~110 ms at br-11. So a step's cost is estimated from a table of nanoseconds per
byte (measured here with ``benchmarks/codecs.py``; conservative: stdlib zlib, JSON text), and

- a step estimated at ``thread_min_size`` bytes of gzip-6 work or more (~1 ms) runs on a
  worker thread: the hand-off (55-110 us of CPU, ``benchmarks/offload.py``) is then small
  next to the work it moves off the loop;
- smaller steps run inline, and after every :data:`YIELD_NS` of estimated inline work the
  response yields to the loop (one checkpoint). Servers' ``send()`` only yields when their
  write buffer is full, which compressed output rarely fills, so without this a stream that
  never awaits anything else (a generator over rows already fetched) would hold the loop for
  the whole body.

The threads come from a capacity limiter of our own, one per event loop (an anyio ``RunVar``),
never the shared default pool: compression must not starve ``run_in_threadpool`` or file I/O,
and more compressing threads than cores buys nothing. The wait for the thread is shielded from
cancellation (anyio's default), so when a request is cancelled the thread finishes its chunk
before the request unwinds: no thread touches an encoder after its request has ended.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar, checkpoint

__all__ = ["YIELD_NS", "CodecRunner", "ns_per_byte", "offload"]

T = TypeVar("T")
R = TypeVar("R")

YIELD_NS = 500_000
"""Estimated inline codec work (ns) after which a response yields to the event loop."""

_CALL_NS = 2_000  # the fixed cost of one codec call (a flush, a Python call, a small send)

# ns per byte of JSON-like text by level, on this project's reference machine (stdlib zlib;
# zlib-ng is faster, so the estimate errs towards the thread). Between listed levels the next
# higher one's figure is used.
_COSTS: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "gzip": ((1, 3, 6, 9), (3.5, 4.8, 8.5, 29.0)),
    "deflate": ((1, 3, 6, 9), (3.5, 4.8, 8.5, 29.0)),
    "br": (
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
        (1.0, 2.5, 2.7, 3.4, 4.6, 8.6, 9.7, 22.0, 22.0, 60.0, 362.0, 843.0),
    ),
    "zstd": (
        (-5, 1, 3, 6, 9, 12, 15, 19, 22),
        (0.7, 0.9, 1.6, 4.6, 8.7, 41.0, 141.0, 550.0, 1124.0),
    ),
}
# dcz (RFC 9842) is zstd against a dictionary held as a prefix: zstd's cost at dcz_level
# (the prefix load is per response, ~14 us for 32 KiB: benchmarks/results/dictionaries.md).
_COSTS["dcz"] = _COSTS["zstd"]
_REFERENCE_NS = 8.5  # gzip-6: the codec thread_min_size is expressed in


def ns_per_byte(coding: str, level: int) -> float:
    """The estimated inline cost of one byte at ``coding`` and ``level``."""
    levels, costs = _COSTS.get(coding, _COSTS["zstd"])
    if coding == "deflate" and level < 0:  # zlib's default, -1, is level 6
        level = 6
    return costs[min(bisect.bisect_left(levels, level), len(costs) - 1)]


_limiter: RunVar[CapacityLimiter] = RunVar("asgi_compress_limiter")


def _cpu_count() -> int:
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def _current_limiter() -> CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(_cpu_count())
        _limiter.set(limiter)
        return limiter


async def offload(func: Callable[[T], R], arg: T) -> R:
    """Run ``func(arg)`` on a compression worker thread and return its result."""
    return await anyio.to_thread.run_sync(func, arg, limiter=_current_limiter())


class CodecRunner:
    """Runs one response's codec steps: inline or on a thread by their estimated cost, with a
    turn for the event loop after each :data:`YIELD_NS` of inline work.

    Args:
        ns_per_byte: the response's codec cost (:func:`ns_per_byte`).
        thread_min_size: bytes of gzip-6 work from which a step goes to a thread.
        timed: measure the time spent in the codec (for the ``on_response`` report).
    """

    __slots__ = ("_ns_per_byte", "_spent", "_thread_min_ns", "seconds", "timed")

    def __init__(self, ns_per_byte: float, thread_min_size: int, *, timed: bool = False) -> None:
        self._ns_per_byte = ns_per_byte
        self._thread_min_ns = thread_min_size * _REFERENCE_NS
        self._spent = 0.0
        self.timed = timed
        self.seconds = 0.0

    async def run(self, func: Callable[[bytes], bytes], data: bytes) -> bytes:
        """``func(data)``, inline or on a worker thread."""
        result = self.inline(func, data)
        if result is None:
            return await self.on_thread(func, data)
        if self.owes_a_turn():
            await checkpoint()
        return result

    def inline(self, func: Callable[[bytes], bytes], data: bytes) -> bytes | None:
        """``func(data)`` run here, or ``None`` when the step belongs on a worker thread
        (then call :meth:`on_thread`). The hot path of a stream: no coroutine of its own."""
        cost = len(data) * self._ns_per_byte + _CALL_NS
        if cost >= self._thread_min_ns:
            return None
        if self.timed:
            began = time.perf_counter()
            result = func(data)
            self.seconds += time.perf_counter() - began
        else:
            result = func(data)
        self._spent += cost
        return result

    def owes_a_turn(self) -> bool:
        """Whether the inline work since the last turn calls for one (``checkpoint()``)."""
        if self._spent >= YIELD_NS:
            self._spent = 0.0
            return True
        return False

    async def on_thread(self, func: Callable[[T], R], arg: T) -> R:
        """``func(arg)`` on a worker thread, whatever its cost (file reads, big steps)."""
        if not self.timed:
            return await offload(func, arg)
        began = time.perf_counter()
        try:
            return await offload(func, arg)
        finally:
            self.seconds += time.perf_counter() - began
