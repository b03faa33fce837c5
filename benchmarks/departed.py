"""CPU spent on clients that have gone (issue 8, "work after the client has gone").

One uvicorn server (``_server.py``) per middleware. Five clients each ask for ``/stream`` of
200 MiB (a Starlette ``StreamingResponse`` from a generator that never awaits), read the first
KiB of the response and close the connection. Reported per cell: the CPU seconds the server
process spends from the first request until it is idle again (its CPU time, all threads, from
``/proc/<pid>/stat``, grows by less than 20 ms in a second), and how long that took.

Without a middleware Starlette's disconnect listener ends each stream as soon as the server
reports ``http.disconnect``. A middleware that keeps the loop busy compressing never lets the
listener run, and encodes all 200 MiB for nobody.

Run: ``python -m benchmarks departed`` (or ``python -m benchmarks streamping departed``).
"""

from __future__ import annotations

import socket
import sys
import time

from ._common import Budget, Check, Report, Table, fmt, write_results
from .eventloop import _Server

__all__ = ["CONDITIONS", "run"]

CLIENTS = 5
STREAM_MIB = 200
READ_BYTES = 1024
IDLE_CPU_S = 0.02  # CPU growth per second below which the server counts as idle
CAP_S = 120.0  # give up waiting for idle after this long (reported as a lower bound)

CONDITIONS: tuple[tuple[str, str, str | None], ...] = (
    ("no middleware", "none", None),
    ("Starlette GZip", "starlette-gzip", "gzip"),
    ("ours", "ours", "zstd"),
    ("ours", "ours", "br"),
    ("ours", "ours", "gzip"),
    ("ours", "ours", "deflate"),
)


def _read_and_leave(port: int, coding: str | None) -> list[socket.socket]:
    """Open every client, read READ_BYTES of each response; the caller closes them."""
    request = f"GET /stream?mib={STREAM_MIB} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if coding:
        request += f"Accept-Encoding: {coding}\r\n"
    socks = []
    for _ in range(CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall((request + "\r\n").encode("latin-1"))
        socks.append(sock)
    for sock in socks:
        got = 0
        while got < READ_BYTES:
            data = sock.recv(READ_BYTES - got)
            if not data:
                break
            got += len(data)
    return socks


def _measure(middleware: str, coding: str | None) -> tuple[float, float, bool]:
    """(server CPU seconds, seconds until idle, reached idle within CAP_S)."""
    server = _Server(middleware, lifetime_s=CAP_S + 120)
    try:
        before = server.cpu_seconds()
        began = time.perf_counter()
        for sock in _read_and_leave(server.port, coding):
            sock.close()
        last = server.cpu_seconds()
        idle = False
        while time.perf_counter() - began < CAP_S:
            time.sleep(1.0)
            now = server.cpu_seconds()
            if now - last < IDLE_CPU_S:
                idle = True
                break
            last = now
        # The last second was idle (or the cap was hit): it does not count as work.
        elapsed = time.perf_counter() - began - (1.0 if idle else 0.0)
        return server.cpu_seconds() - before, elapsed, idle
    finally:
        server.close()


def run(budget: Budget) -> Report:
    table = Table(
        f"uvicorn, {CLIENTS} clients read {READ_BYTES} B of a {STREAM_MIB} MiB never-awaiting "
        "stream and leave",
        ["middleware", "coding", "server CPU s", "busy for s"],
    )
    results: dict[tuple[str, str | None], float] = {}
    for label, middleware, coding in CONDITIONS:
        print(f"  departed: {label} {coding or ''}", file=sys.stderr, flush=True)
        cpu, elapsed, idle = _measure(middleware, coding)
        results[(label, coding)] = cpu
        bound = "" if idle else " (cap hit: at least)"
        table.add(label, coding or "-", fmt(cpu) + bound, fmt(elapsed, 1))
    table.notes += [
        "server CPU s = the server process's CPU time (user + system, all threads) from the "
        "first request until a second passes with less than "
        f"{IDLE_CPU_S * 1e3:.0f} ms of it; includes serving the first KiB to each client.",
        f"busy for s = wall time until then (to 1 s resolution; capped at {CAP_S:.0f} s).",
        "Starlette GZip: level 6, minimum_size 500; ours: defaults.",
    ]
    none = results[("no middleware", None)]
    checks = [
        Check(
            f"departed clients, {coding}: server CPU <= 2x no-middleware + 0.5 s",
            f"{cpu:.2f} s (none {none:.2f} s)",
            cpu <= 2 * none + 0.5,
        )
        for (label, coding), cpu in results.items()
        if label == "ours"
    ]
    write_results("departed", "CPU spent on clients that left", [table])
    return Report("departed", [table], checks)


if __name__ == "__main__":
    run(Budget.from_env())
