"""When and how a chunk is compressed on a worker thread.

Compressing a large chunk inline would block the event loop: 1 MiB of JSON takes ~3 ms at
gzip-6 and every other request on the loop waits. A thread hand-off has a fixed cost of its own
(tens of microseconds of loop time), so only chunks of at least ``thread_min_size`` bytes go to
a thread; the default comes from ``benchmarks/offload.py``.

The threads come from a capacity limiter of our own, one per event loop (an anyio ``RunVar``),
never the shared default pool: compression must not starve ``run_in_threadpool`` or file I/O,
and more compressing threads than cores buys nothing. The wait for the thread is shielded from
cancellation (anyio's default), so when a request is cancelled the thread finishes its chunk
before the request unwinds: no thread touches an encoder after its request has ended.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

__all__ = ["offload"]

T = TypeVar("T")
R = TypeVar("R")

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
