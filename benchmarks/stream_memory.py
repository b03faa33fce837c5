"""Memory per open event stream (issue 18): N idle SSE clients under uvicorn.

Two parts, one results file (``results/stream_memory.md``):

1. **Encoders, in process** (``_encoder_memory.py``): the RSS one live encoder holds after
   one event and after 256 KiB of events (each flushed), for our encoders as shipped (an
   event stream's and any other stream's) and for the candidate windows and tables the event
   profile was chosen from, with the ratio each gives on small events, token events, 1 MiB
   of events and a 1 MiB JSON stream.
2. **Under uvicorn**: a server process (``python -m benchmarks.stream_memory --serve
   MIDDLEWARE``) runs an SSE app that sends one ~190-byte token event and then waits for the
   client to leave. One client process opens N connections on 127.0.0.1 with raw asyncio
   sockets (``Accept-Encoding`` names one coding), reads each response's head and first
   event, then holds them all open and idle. Reported: the server's ``VmRSS`` (from
   ``/proc/<pid>/status``) once every stream got its event, minus the same after a warm-up,
   divided by N. Cells: no middleware, ours and starlette-compress, each for br, zstd, gzip.

N defaults to 10,000 (``BENCH_STREAMS`` changes it; ``--quick`` uses 1,000), lowered to fit
``RLIMIT_NOFILE`` (raised to its hard limit in both processes). The server stops by itself
after ``_LIFETIME`` seconds whatever happens to the client.

Run: ``python -m benchmarks stream_memory``.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from asgi_compress._types import Receive, Scope, Send

from ._common import Budget, Check, Report, Table, fmt, write_results
from ._encoder_memory import RatioSet, encoder_kib, ratios

__all__ = ["run"]

PREAMBLE = """\
How the event-stream profile was chosen (issue 18). An event stream's encoder lives as long
as its client listens, so what the codec touched is held once per open client. Measured before
this change (main at b673424, 2,000 idle streams under uvicorn, same benchmark): br 534, zstd
829, gzip 232 KiB per stream (no middleware: 10). The memory is the codec's match tables, which
it clears when it starts, not its window (which fills only as events arrive):

- **br**: quality 2-3 clear a 256 KiB hash table, 4 a 512 KiB one, 5-9 at lgwin <= 16 256 KiB
  (then up to 700 KiB as the stream runs); lgwin, lgblock and mode change none of it (checked
  again with brotli 1.2.1, whose Compressor takes only those and quality). Quality 0-1 hold
  ~13 KiB but compress each flushed event alone (2.3x-11x the bytes). So ~262 KiB is br's
  floor at a ratio near today's: event streams get quality min(br_level, 3) and lgwin 16, and
  10,000 br event streams stay above 1 GiB. **The fix is negotiation**: among the codings a
  client ranks equally, an event stream takes br last (zstd, gzip, deflate keep the server's
  order), and every browser that sends br also sends gzip: Safari's `gzip, deflate, br` gets
  gzip, Chrome's and Firefox's (with zstd) get zstd; a br-only client still gets br, and the
  Quart extension keeps Flask-Compress's order.
- **zstd**: level 3's tables at any window (hash 2**17, chain 2**16) are 813 KiB. At window_log
  16 zstd's lazy strategies use a row matcher that ignores chain_log and needs a 2**13 hash
  (86 KiB; 10,000 streams measured 1.00 GiB under uvicorn with it) to keep level 3's ratio;
  btlazy2 on a 2**10 hash and a 2**11 tree holds ~60 KiB (zstd's own floor is ~47: tables of
  2**6 hold 48) for +0.4% bytes on events, +0.1% on tokens and +1.7% on 1 MiB of events against
  level 3 (2**11/2**11: ~64 KiB and better than level 3 on all three; 2**10/2**10: ~56 KiB but
  +4.4% on events). It costs ~10.6 us of CPU per event against lazy's ~7.1 (gzip ~15, br ~13).
- **gzip/deflate**: zlib-ng clears a fixed 128 KiB hash and its window (~207 KiB at any
  memLevel); stdlib zlib at memLevel 4 holds 24 KiB for the same ratio on events (-1.7% against
  zlib-ng). The window stays at wbits 15: wbits 14 costs +2-6%.

Other streams keep the stream settings (br/zstd window 2**19, zlib-ng): they are usually
downloads, short-lived and large, where the window pays. Every stream's encoder is now released
when its response ends, fails or loses its client, without waiting for the garbage collector.
"""

_ROOT = Path(__file__).resolve().parent.parent
_LIFETIME = 240.0  # seconds a server lives at most
_CONNECT_AT_ONCE = 200
_TARGET_GIB = 1.0
_EVENT = (
    b'data: {"id":"chatcmpl-9xQ2k7","object":"chat.completion.chunk","created":1732170000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" hello"},'
    b'"finish_reason":null}]}\n\n'
)

CELLS: tuple[tuple[str, str, str | None], ...] = (
    ("no middleware", "none", None),
    *(("ours", "ours", c) for c in ("br", "zstd", "gzip")),
    ("ours", "ours", "gzip, deflate, br"),  # Safari's: an event stream takes gzip over br
    *(("starlette-compress", "starlette-compress", c) for c in ("br", "zstd", "gzip")),
)

# Candidates for the event profile: (label, spec). Ours as shipped come first.
CANDIDATES: tuple[tuple[str, str], ...] = (
    ("ours, event stream (br q<=3, lgwin 16)", "ours:br:events"),
    ("ours, other streams (br-4, lgwin 19)", "ours:br:stream"),
    ("br-4, lgwin 22", "br:4:22"),
    ("br-4, lgwin 16", "br:4:16"),
    ("br-2, lgwin 16", "br:2:16"),
    ("br-1, lgwin 16 (each flush alone)", "br:1:16"),
    ("br-5, lgwin 16", "br:5:16"),
    ("ours, event stream (zstd w16 h10 c11 btlazy2 s4)", "ours:zstd:events"),
    ("ours, other streams (zstd-3, w19)", "ours:zstd:stream"),
    ("zstd-3, w16 (level's tables)", "zstd:3:16"),
    ("zstd-3, w16 h14 c14 dfast", "zstd:3:16:14:14"),
    ("zstd-3, w16 h12 c12 dfast", "zstd:3:16:12:12"),
    ("zstd-3, w16 h13 lazy s1", "zstd:3:16:13:13:4"),
    ("zstd-3, w16 h12 lazy s4", "zstd:3:16:12:12:4:4"),
    ("zstd-3, w16 h13 lazy s4 (events before)", "zstd:3:16:13:13:4:4"),
    ("zstd-3, w16 h11 c11 btlazy2 s4", "zstd:3:16:11:11:6:4"),
    ("zstd-3, w16 h10 c10 btlazy2 s4", "zstd:3:16:10:10:6:4"),
    ("zstd-3, w14 h11 c11 lazy s4 (chain matcher)", "zstd:3:14:11:11:4:4"),
    ("zstd-1, w16 h12 fast", "zstd:1:16:12:12"),
    ("ours, event stream (gzip: zlib wbits 15, memLevel 4)", "ours:gzip:events"),
    ("ours, other streams (gzip-6 via zlib-ng)", "ours:gzip:stream"),
    ("zlib-ng, memLevel 4", "zlibng:6:15:4"),
    ("zlib, memLevel 8", "zlib:6:15:8"),
    ("zlib, memLevel 5", "zlib:6:15:5"),
    ("zlib, wbits 14, memLevel 4", "zlib:6:14:4"),
)


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def _status_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the server ----------------------------------------------------------------------------


def _serve(name: str) -> None:
    import uvicorn

    from ._server import middleware

    async def sse(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"),
                                (b"cache-control", b"no-cache")]})  # fmt: skip
        await send({"type": "http.response.body", "body": _EVENT, "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    _raise_fd_limit()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # before the port is told: the client may connect at once
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        middleware(name)(sse), log_level="warning", access_log=False, lifespan="off",
        backlog=4096, timeout_keep_alive=600,
    )  # fmt: skip
    server = uvicorn.Server(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(_LIFETIME, setattr, server, "should_exit", True)
        await server.serve(sockets=[sock])

    asyncio.run(main())


# -- the client ----------------------------------------------------------------------------


async def _open(port: int, coding: str | None, gate: asyncio.Semaphore) -> tuple[Any, str]:
    """One stream, read up to its first event; returns the writer (kept open) and the
    response's Content-Encoding."""
    request = b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if coding:
        request += b"Accept-Encoding: " + coding.encode() + b"\r\n"
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request + b"\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readuntil(b"\r\n")  # the first chunk's size line
        await reader.readexactly(1)  # and the event's first byte: the stream is live
    encoding = ""
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-encoding":
            encoding = value.strip()
    return writer, encoding


async def _hold_streams(port: int, coding: str | None, count: int) -> tuple[list[Any], set[str]]:
    gate = asyncio.Semaphore(_CONNECT_AT_ONCE)
    opened = await asyncio.gather(*(_open(port, coding, gate) for _ in range(count)))
    return [writer for writer, _ in opened], {encoding for _, encoding in opened}


def _cell(name: str, coding: str | None, count: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.stream_memory", "--serve", name]
    server = subprocess.Popen(command, cwd=_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])

        async def measure() -> dict[str, Any]:
            warm, _ = await _hold_streams(port, coding, 50)  # imports, first-use tables
            for writer in warm:
                writer.close()
            await asyncio.sleep(1.0)  # the server handles the 50 disconnects
            before = _status_kib(server.pid)
            cpu = _cpu_seconds(server.pid)
            began = time.perf_counter()
            writers, encodings = await _hold_streams(port, coding, count)
            seconds = time.perf_counter() - began
            await asyncio.sleep(1.0)  # every stream idle now
            after = _status_kib(server.pid)
            result = {"before": before, "after": after, "encodings": sorted(encodings),
                      "seconds": seconds, "cpu": _cpu_seconds(server.pid) - cpu}  # fmt: skip
            for writer in writers:
                writer.close()
            return result

        return asyncio.run(measure())
    finally:
        server.terminate()
        server.wait(timeout=30)


def _streams(budget: Budget) -> int:
    wanted = int(os.environ.get("BENCH_STREAMS", 1000 if budget.quick else 10_000))
    room = _raise_fd_limit() - 200  # the client's own files, and the server has the same limit
    return max(100, min(wanted, room))


def _uvicorn_table(count: int) -> tuple[Table, list[Check]]:
    table = Table(
        f"{count:,} open idle event streams under uvicorn: server RSS growth",
        ["middleware", "coding", "Content-Encoding seen", "RSS MiB before", "RSS growth MiB",
         "KiB per stream", "server RSS at 10,000 (GiB)", "open all (s)", "server CPU (s)"],
    )  # fmt: skip
    checks = []
    for label, name, coding in CELLS:
        r = _cell(name, coding, count)
        per = (r["after"] - r["before"]) / count
        total = (r["before"] + per * 10_000) / (1 << 20)
        table.add(label, coding or "identity", ",".join(r["encodings"]) or "-",
                  fmt(r["before"] / 1024, 1), fmt((r["after"] - r["before"]) / 1024, 1),
                  fmt(per, 1), fmt(total, 2), fmt(r["seconds"], 1), fmt(r["cpu"], 1))  # fmt: skip
        if name == "ours" and coding is not None:
            checks.append(Check(f"10,000 idle {coding} event streams: < 1 GiB server RSS",
                                f"{per:.0f} KiB per stream, {total:.2f} GiB in all",
                                total < _TARGET_GIB))  # fmt: skip
    table.notes += [
        "RSS growth = the server's VmRSS with every stream open and its event received, minus "
        "the same after 50 warm-up streams were opened and closed. Server RSS at 10,000 = RSS "
        "before + 10,000 x KiB per stream (measured as such when N is 10,000).",
        "The app sends one token event (~190 bytes) and waits for http.disconnect; the "
        "client reads each response's head and first chunk, then holds it open.",
    ]
    return table, checks


def _encoder_table(budget: Budget) -> Table:
    inputs = RatioSet()
    table = Table(
        "One live encoder: RSS held and ratio (encoded / input bytes, each event flushed)",
        ["encoder", "KiB after 1 event", "KiB after 256 KiB of events", *inputs.columns()],
    )
    count = 100 if budget.quick else 200
    for label, spec in CANDIDATES:
        idle = encoder_kib(spec, count, 0)
        busy = encoder_kib(spec, max(20, count // 8), 256 * 1024)
        table.add(label, fmt(idle, 0), fmt(busy, 0), *(fmt(r, 4) for r in ratios(spec, inputs)))
    table.notes += [
        "KiB = VmRSS growth over many live encoders divided by their number (a fresh process "
        "per row); the codecs' C allocations count, which tracemalloc cannot see.",
        "zstd specs: level, window_log, hash_log, chain_log, strategy (4 = lazy, 6 = btlazy2), "
        "search_log.",
        "Events: benchmarks/payloads.py sse_events (60-250 bytes); tokens: ~190-byte chat "
        "completion chunks, one word each; 1 MiB JSON: json_document flushed every 256 KiB "
        "(how a non-event stream of that size goes out).",
    ]
    return table


def run(budget: Budget) -> Report:
    encoders = _encoder_table(budget)
    count = _streams(budget)
    served, checks = _uvicorn_table(count)
    report = Report("stream_memory", [encoders, served], checks)
    write_results("stream_memory", "Memory per open stream", report.tables, PREAMBLE)
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
    else:
        run(Budget.from_env())
