"""Memory: a 200 MiB streamed response must stay flat, and 100 concurrent 1 MiB ones bounded.

Each case runs in a fresh child process (``python -m benchmarks.memory --child CASE CODING``)
so that one case's heap cannot hide another's:

1. imports, payloads, the middleware and one small warm-up request (the worker thread and
   lazy imports exist from then on);
2. baseline: ``VmRSS`` after ``gc.collect()``, with the kernel's high-water mark reset
   (``/proc/self/clear_refs``);
3. the case runs through ``CompressMiddleware`` as shipped, in process, with a server stub
   that counts the encoded bytes and drops them;
4. peak = ``VmHWM`` minus the baseline; then the case runs again under ``tracemalloc`` (the
   stream for a quarter of its length) for the peak of Python-level allocations (codec
   libraries that allocate with ``malloc``, like brotli's and zstd's, show in RSS only).

Cases: ``stream``: 3,200 messages of 64 KiB (200 MiB: the 1 MiB JSON document over and over,
its digits permuted on each pass), one flush each; ``concurrent``: 100 requests at once, each
a one-shot 1 MiB body (one shared ``bytes``: the app's own bodies are not the middleware's
memory).

Run: ``python -m benchmarks memory``.
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from ._common import Budget, Check, Report, Table, fmt, write_results

__all__ = ["run"]

_ROOT = Path(__file__).resolve().parent.parent
STREAM_CHUNK = 64 * 1024
STREAM_TOTAL = 200 << 20
CONCURRENT = 100
CODINGS = ("zstd", "br", "gzip", "deflate")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _case(case: str, coding: str, total: int = STREAM_TOTAL) -> Callable[[], Awaitable[int]]:
    """The case as a coroutine function that returns the encoded bytes the stub received."""
    from asgi_compress import CompressMiddleware

    from .inprocess import Message, Receive, Scope, Send, make_scope, receive
    from .payloads import json_document

    doc = json_document()
    pieces = [doc[i : i + STREAM_CHUNK] for i in range(0, len(doc) - STREAM_CHUNK, STREAM_CHUNK)]
    # Each pass over the document permutes its digits, so that no codec window (zstd's and
    # brotli's reach back megabytes) finds the previous pass verbatim.
    rng = random.Random(5)
    tables = []
    for _ in range(64):
        digits = list(b"0123456789")
        rng.shuffle(digits)
        tables.append(bytes.maketrans(b"0123456789", bytes(digits)))

    async def stream_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        for index in range(total // STREAM_CHUNK):
            table = tables[(index // len(pieces)) % len(tables)]
            body = pieces[index % len(pieces)].translate(table)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    length = b"%d" % len(doc)

    async def oneshot_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", length),
                                (b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": doc})

    scope = make_scope(coding)

    class Stub:
        def __init__(self) -> None:
            self.size = 0
            self.done = False

        async def __call__(self, message: Message) -> None:
            if message["type"] == "http.response.body":
                self.size += len(message.get("body", b""))
                self.done = not message.get("more_body", False)

    if case == "stream":
        middleware = CompressMiddleware(stream_app)

        async def run_stream() -> int:
            stub = Stub()
            await middleware(scope, receive, stub)
            assert stub.done
            return stub.size

        return run_stream

    middleware = CompressMiddleware(oneshot_app)

    async def run_concurrent() -> int:
        stubs = [Stub() for _ in range(CONCURRENT)]
        async with anyio.create_task_group() as group:
            for stub in stubs:
                group.start_soon(middleware, scope, receive, stub)
        assert all(stub.done for stub in stubs)
        return sum(stub.size for stub in stubs)

    return run_concurrent


async def _child_main(case: str, coding: str) -> dict[str, Any]:
    from .inprocess import CountingSend, make_scope, oneshot_app, receive

    run_case = _case(case, coding)
    from asgi_compress import CompressMiddleware

    warm = CompressMiddleware(oneshot_app(b"x" * 100_000, b"application/json"))
    await warm(make_scope(coding), receive, CountingSend())  # starts the worker thread
    gc.collect()
    reset = _reset_peak()
    baseline = _status_kib("VmRSS")
    began = time.perf_counter()
    out = await run_case()
    seconds = time.perf_counter() - began
    peak = _status_kib("VmHWM")
    gc.collect()
    # A quarter of the stream is enough for tracemalloc (which slows every allocation): a
    # middleware that does not buffer has reached its peak after the first few messages.
    run_case = _case(case, coding, STREAM_TOTAL // 4)
    tracemalloc.start()
    await run_case()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "baseline_kib": baseline,
        "peak_kib": peak,
        "hwm_reset": reset,
        "traced_peak": traced_peak,
        "out_bytes": out,
        "seconds": seconds,
    }


def _child(case: str, coding: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory", "--child", case, coding]
    done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {case} {coding} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(budget: Budget) -> Report:
    table = Table(
        "Peak memory through CompressMiddleware (as shipped), above the process baseline",
        ["case", "coding", "input", "output", "seconds", "baseline RSS MiB", "peak RSS MiB above",
         "tracemalloc peak MiB"],
    )  # fmt: skip
    checks: list[Check] = []
    codings = ("zstd", "gzip") if budget.quick else CODINGS
    worst_stream = 0.0
    for case, label, size in (
        ("stream", f"1 stream, {STREAM_TOTAL >> 20} MiB in 64 KiB messages", STREAM_TOTAL),
        ("concurrent", f"{CONCURRENT} concurrent 1 MiB one-shot responses", CONCURRENT << 20),
    ):
        for coding in codings:
            r = _child(case, coding)
            above = (r["peak_kib"] - r["baseline_kib"]) / 1024
            if case == "stream":
                worst_stream = max(worst_stream, above)
            table.add(label, coding, f"{size / (1 << 20):,.0f} MiB",
                      f"{r['out_bytes'] / (1 << 20):,.1f} MiB", fmt(r["seconds"], 2),
                      fmt(r["baseline_kib"] / 1024, 1), fmt(above, 1),
                      fmt(r["traced_peak"] / (1 << 20), 2))  # fmt: skip
            if not r["hwm_reset"]:
                table.notes.append(f"{case}/{coding}: the RSS high-water mark could not be reset.")
    table.notes += [
        "peak RSS above = VmHWM during the case minus VmRSS just before it (fresh process, "
        "after imports and a warm-up request); the concurrent case shares one 1 MiB body.",
        "tracemalloc sees Python allocations (and zlib's, which go through PyMem); brotli and "
        "zstd allocate their windows with malloc and show in RSS only.",
    ]
    checks.append(
        Check(
            "200 MiB stream: peak < 16 MiB above baseline",
            f"worst coding {worst_stream:.1f} MiB",
            worst_stream < 16,
        )
    )
    report = Report("memory", [table], checks)
    write_results("memory", "Memory", report.tables)
    return report


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(anyio.run(_child_main, sys.argv[2], sys.argv[3])))
    else:
        run(Budget.from_env())
