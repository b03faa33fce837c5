"""Ping latency while clients pull never-awaiting streams (issue 8, "the event loop").

One uvicorn server (``_server.py``) per middleware. Two client processes (``_client.py``) pull
``/stream`` back to back: a Starlette ``StreamingResponse`` of 50 MiB of CSV in 64 KiB chunks
from a generator that never awaits, so the server's loop gets a turn only when ``send()``
yields. A third process pings ``/ping`` every 5 ms on the same server. Reported per cell: the
ping latency p50 / p99 (what any other request on that server waits), the streams' throughput
and the server's CPU time.

Without a middleware the raw chunks fill the socket buffer, ``send()`` waits for the client,
and the loop answers pings meanwhile. A middleware that compresses every chunk inline and never
yields keeps the loop for itself: compressed output rarely fills the buffer.

Run: ``python -m benchmarks streamping`` (or ``python -m benchmarks streamping departed``
for this and ``departed``).
"""

from __future__ import annotations

import sys
import time

from ._client import Connection
from ._common import Budget, Check, Report, Table, fmt, write_results
from .eventloop import PING_INTERVAL_S, _percentile, _Server, _Worker

__all__ = ["CONDITIONS", "run"]

STREAM_MIB = 50
FETCHERS = 2

# (label, server middleware, coding asked for)
CONDITIONS: tuple[tuple[str, str, str | None], ...] = (
    ("no middleware", "none", None),
    ("Starlette GZip", "starlette-gzip", "gzip"),
    ("ours", "ours", "zstd"),
    ("ours", "ours", "br"),
    ("ours", "ours", "gzip"),
    ("ours", "ours", "deflate"),
)


def _measure(middleware: str, coding: str | None, seconds: float) -> dict[str, float]:
    path = f"/stream?mib={STREAM_MIB}"
    server = _Server(middleware, lifetime_s=120 + 4 * seconds)
    workers: list[_Worker] = []
    try:
        control = Connection(server.port)
        _, headers = control.get("/stream?mib=1", coding)
        control.close()
        got = headers.get("content-encoding", "identity")
        if got != (coding or "identity"):
            raise RuntimeError(f"{middleware}: asked for {coding}, got {got}")
        workers = [_Worker() for _ in range(FETCHERS + 1)]
        start = time.time() + 0.2
        stop = start + seconds
        cpu_before = server.cpu_seconds()
        began = time.perf_counter()
        for worker in workers[:FETCHERS]:
            worker.send({"op": "fetch", "port": server.port, "path": path, "ae": coding,
                         "start": start, "stop": stop})  # fmt: skip
        workers[-1].send({"op": "ping", "port": server.port, "path": "/ping",
                          "interval": PING_INTERVAL_S, "start": start, "stop": stop})  # fmt: skip
        latencies: list[float] = workers[-1].answer()["latencies"]
        fetched = [worker.answer() for worker in workers[:FETCHERS]]
        elapsed = time.perf_counter() - began - 0.2
        cpu = server.cpu_seconds() - cpu_before
    finally:
        for worker in workers:
            worker.close()
        server.close()
    return {
        "pings": len(latencies),
        "p50_ms": _percentile(latencies, 0.5) * 1e3,
        "p99_ms": _percentile(latencies, 0.99) * 1e3,
        "max_ms": max(latencies, default=float("nan")) * 1e3,
        "streams": sum(int(f["count"]) for f in fetched),
        "mib_s": sum(int(f["count"]) for f in fetched) * STREAM_MIB / elapsed,
        "cpu_s": cpu,
        "elapsed_s": elapsed,
    }


def run(budget: Budget) -> Report:
    seconds = 3.0 if budget.quick else 6.0
    table = Table(
        f"uvicorn, {FETCHERS} clients pulling {STREAM_MIB} MiB never-awaiting streams "
        f"(64 KiB chunks) back to back for {seconds:.0f} s + 1 pinger (every 5 ms)",
        ["middleware", "coding", "pings", "ping p50 ms", "ping p99 ms", "ping max ms",
         "streams done", "stream MiB/s (app side)", "server CPU s", "wall s"],
    )  # fmt: skip
    results: dict[tuple[str, str | None], dict[str, float]] = {}
    for label, middleware, coding in CONDITIONS:
        print(f"  streamping: {label} {coding or ''}", file=sys.stderr, flush=True)
        cell = _measure(middleware, coding, seconds)
        results[(label, coding)] = cell
        table.add(label, coding or "-", fmt(int(cell["pings"])), fmt(cell["p50_ms"]),
                  fmt(cell["p99_ms"]), fmt(cell["max_ms"]), fmt(int(cell["streams"])),
                  fmt(cell["mib_s"], 1), fmt(cell["cpu_s"]), fmt(cell["elapsed_s"], 1))  # fmt: skip
    table.notes += [
        "A stream in progress when the window closes is read to its end, so the wall time "
        "can exceed the window; pings stop at the window's end.",
        "pings = how many /ping answers came back in the window (one every 5 ms at best); a "
        "frozen loop answers few, late.",
        "stream MiB/s = uncompressed MiB the app produced per second, both clients together.",
        "Starlette GZip: level 6, minimum_size 500; ours: defaults.",
    ]
    none = results[("no middleware", None)]
    checks = [
        Check(
            f"streams, {coding}: ping p99 <= 2x no-middleware",
            f"{cell['p99_ms']:.1f} ms (none {none['p99_ms']:.1f})",
            cell["p99_ms"] <= 2 * none["p99_ms"],
        )
        for (label, coding), cell in results.items()
        if label == "ours"
    ]
    report = Report("streamping", [table], checks)
    report.charts = {
        "Never-awaiting streams: ping p99 in ms (lower is better)": {
            f"{label} {coding or ''}".strip(): cell["p99_ms"]
            for (label, coding), cell in results.items()
        }
    }
    write_results("streamping", "Ping latency during never-awaiting streams", [table])
    return report


if __name__ == "__main__":
    run(Budget.from_env())
