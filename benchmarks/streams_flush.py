"""Streams that compress like whole bodies and still arrive live (issue 10).

Four measurements, each of ours with its default ``flush_delay`` against ``flush_delay=0``
(every message flushed on its own, the behaviour before issue 10):

1. **CSV export, in process**: 2,000 rows (and 20,000, past the 256 KiB hold) sent one row per
   ``http.response.body``, as Starlette's ``StreamingResponse`` over a sync generator sends
   them. Compressed size against the same body sent whole (one message: same coding, same
   level, our one-shot path).
2. **Token stream under uvicorn** (``_server.py`` ``/tokens``): a 40-byte token every 20 ms,
   each stamped with the server's ``time.monotonic()`` just before the app's ``send``. A
   raw-socket client parses the chunked transfer coding and decodes as bytes arrive, with
   independent decoders (zlib, brotli, the zstd module); a token's latency is the client's
   ``time.monotonic()`` once it is decodable minus its stamp (one machine, one clock).
3. **Headers on time** (``/late``): a stream whose first body comes 1 s after its head; the
   time from the request to the response head at the client.
4. **The flush_delay sweep** (1, 2, 5, 10, 20 ms): the CSV export's size under uvicorn and
   the token latency, per coding.

Run: ``python -m benchmarks streams_flush``.
"""

from __future__ import annotations

import socket
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import brotli
from starlette.responses import StreamingResponse

from ._common import Budget, Check, Report, Table, fmt, write_results
from ._server import csv_rows
from .eventloop import _percentile, _Server

try:
    from compression import zstd  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = ["CODINGS", "SWEEP_MS", "run"]

CODINGS = ("zstd", "br", "gzip", "deflate")
DEFAULT_MS = 5.0  # settings.DEFAULT_FLUSH_DELAY, in ms (checked in run())
SWEEP_MS = (1.0, 2.0, 5.0, 10.0, 20.0)
CSV_ROWS = (2_000, 20_000)
TOKEN_INTERVAL_S = 0.02
FAST_INTERVAL_S = 0.004  # a steady stream that never pauses for the default flush_delay
PAGE_ROWS, PAGE_GAP_S = 100, 0.002  # the paced CSV: a cursor fetching 100 rows in 2 ms
LATE_WAIT_S = 1.0
RATIO_TARGET = 1.15
TOKEN_SLACK_MS = 5.0
HEAD_SLACK_MS = 50.0

Message = dict[str, Any]


class _Decoder:
    """Incremental decoder of one content coding, independent of asgi_compress."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._impl: Any = None
        if coding in ("gzip", "deflate"):
            self._impl = zlib.decompressobj(zlib.MAX_WBITS | (16 if coding == "gzip" else 0))
        elif coding == "br":
            self._impl = brotli.Decompressor()
        elif coding == "zstd":
            self._impl = zstd.ZstdDecompressor()

    def feed(self, data: bytes) -> bytes:
        if self._impl is None:
            return data
        if self._coding == "br":
            out = bytearray(self._impl.process(data))
            while not self._impl.is_finished() and (more := self._impl.process(b"")):
                out += more
            return bytes(out)
        return bytes(self._impl.decompress(data))


# -- 1. CSV export, in process ------------------------------------------------------------------


def _scope(coding: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/export.csv",
        "raw_path": b"/export.csv", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"bench"), (b"accept-encoding", coding.encode())],
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "state": {},
    }  # fmt: skip


async def _serve_in_process(app: Any, coding: str) -> tuple[bytes, int, str]:
    """(body bytes on the wire, body messages that carried bytes, Content-Encoding)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(coding), receive, send)
    head = dict(sent[0]["headers"])
    bodies = [m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body"]
    return (
        b"".join(bodies),
        sum(1 for b in bodies if b),
        head.get(b"content-encoding", b"").decode(),
    )


def _csv_in_process(rows: list[bytes], coding: str, **options: Any) -> tuple[int, int]:
    """(wire size, body messages) of the rows streamed one per message through ours."""
    from asgi_compress import CompressMiddleware

    app = CompressMiddleware(StreamingResponse(iter(rows), media_type="text/plain"), **options)
    wire, messages, got = anyio.run(_serve_in_process, app, coding)
    if got != coding or _Decoder(coding).feed(wire) != b"".join(rows):
        raise RuntimeError(f"CSV stream, {coding} {options}: got {got!r} or wrong bytes")
    return len(wire), messages


def _whole_in_process(body: bytes, coding: str) -> int:
    """Size of ``body`` sent as one message through ours: the one-shot path, same level."""
    from asgi_compress import CompressMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    wire, _, got = anyio.run(_serve_in_process, CompressMiddleware(app), coding)
    if got != coding or _Decoder(coding).feed(wire) != body:
        raise RuntimeError(f"whole body, {coding}: got {got!r} or wrong bytes")
    return len(wire)


def _csv_table(checks: list[Check]) -> tuple[Table, dict[tuple[int, str], int]]:
    table = Table(
        "CSV export in process: one row per message, back to back (StreamingResponse over a "
        "sync generator)",
        ["rows", "coding", "whole B", "default B", "default x whole", "default messages",
         "flush_delay=0 B", "flush_delay=0 x whole", "flush_delay=0 messages"],
    )  # fmt: skip
    wholes: dict[tuple[int, str], int] = {}
    for count in CSV_ROWS:
        rows = csv_rows(count)
        body = b"".join(rows)
        for coding in CODINGS:
            whole = wholes[(count, coding)] = _whole_in_process(body, coding)
            size, messages = _csv_in_process(rows, coding)
            size0, messages0 = _csv_in_process(rows, coding, flush_delay=0)
            table.add(fmt(count), coding, fmt(whole), fmt(size), fmt(size / whole), fmt(messages),
                      fmt(size0), fmt(size0 / whole), fmt(messages0))  # fmt: skip
            checks.append(Check(f"CSV {count:,} rows, {coding}: size <= {RATIO_TARGET}x whole",
                                f"{size / whole:.2f}x (flush_delay=0: {size0 / whole:.2f}x)",
                                size / whole <= RATIO_TARGET))  # fmt: skip
    table.notes += [
        f"{len(body):,} B for {CSV_ROWS[-1]:,} rows, {len(b''.join(csv_rows(CSV_ROWS[0]))):,} B "
        f"for {CSV_ROWS[0]:,}; served as text/plain.",
        "whole = the same body sent as one message through ours (one-shot path: same coding, "
        "same level). default = flush_delay 5 ms; messages = body messages that carried bytes.",
        "The stream is flushed flush_delay after its oldest unflushed byte (and every 256 KiB "
        "of input): the default's messages column counts those flushes.",
    ]
    return table, wholes


# -- 2-4. Under uvicorn, read by a raw-socket client -------------------------------------------


def _fetch(
    port: int, path: str, coding: str | None, on_body: Callable[[bytes, float], None]
) -> tuple[float, dict[str, str], int]:
    """GET ``path``; decode the body as it arrives, calling ``on_body(decoded, now)`` after
    each read. Returns (seconds from request to head, headers, body bytes on the wire)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if coding:
        request += f"Accept-Encoding: {coding}\r\n"
    try:
        began = time.monotonic()
        sock.sendall((request + "\r\n").encode("latin-1"))
        buffer = bytearray()
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            data = sock.recv(1 << 16)
            if not data:
                raise ConnectionError("closed before the head")
            buffer += data
        head_s = time.monotonic() - began
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        decoder = _Decoder(headers.get("content-encoding", "identity"))
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        left = int(headers.get("content-length", "-1"))  # body bytes left; -1: to the close
        state = "size"  # chunked: "size" line, chunk "data" (``left`` bytes), its "crlf"
        wire = 0
        done = left == 0
        while True:
            decoded = bytearray()
            while buffer and not done:  # consume what the buffer holds
                if not chunked or state == "data":
                    take = bytes(buffer if left < 0 else buffer[:left])
                    del buffer[: len(take)]
                    wire += len(take)
                    decoded += decoder.feed(take)
                    if left >= 0:
                        left -= len(take)
                        if left == 0:
                            done, state = not chunked, "crlf"
                elif state == "crlf":
                    if len(buffer) < 2:
                        break
                    del buffer[:2]
                    state = "size"
                else:
                    if (eol := buffer.find(b"\r\n")) < 0:
                        break
                    left = int(bytes(buffer[:eol]).split(b";")[0], 16)
                    del buffer[: eol + 2]
                    state, done = "data", left == 0
            if decoded:
                on_body(bytes(decoded), time.monotonic())
            if done:
                return head_s, headers, wire
            data = sock.recv(1 << 16)
            if not data:
                if chunked or left > 0:
                    raise ConnectionError("closed mid-body")
                return head_s, headers, wire
            buffer += data
    finally:
        sock.close()


def _tokens(
    port: int, coding: str | None, count: int, interval: float = TOKEN_INTERVAL_S
) -> tuple[list[float], str]:
    """Each token's latency in seconds (decodable at the client minus its send stamp)."""
    latencies: list[float] = []
    text = bytearray()

    def on_body(decoded: bytes, now: float) -> None:
        text.extend(decoded)
        while (eol := text.find(b"\n")) >= 0:
            stamp = float(text[:eol].split()[1])
            latencies.append(now - stamp)
            del text[: eol + 1]

    path = f"/tokens?count={count}&interval={interval}"
    _, headers, _ = _fetch(port, path, coding, on_body)
    if len(latencies) != count:
        raise RuntimeError(f"tokens, {coding}: {len(latencies)} of {count} decoded")
    return latencies, headers.get("content-encoding", "identity")


def _csv_over_uvicorn(port: int, coding: str, rows: int, *, paced: bool) -> int:
    got = bytearray()
    path = f"/csv?rows={rows}" + (f"&page={PAGE_ROWS}&gap={PAGE_GAP_S}" if paced else "")
    _, headers, wire = _fetch(port, path, coding, lambda d, _: got.extend(d))
    if headers.get("content-encoding") != coding or bytes(got) != b"".join(csv_rows(rows)):
        raise RuntimeError(f"CSV over uvicorn, {coding}: wrong coding or bytes")
    return wire


def _head_times(port: int, coding: str | None, samples: int) -> tuple[list[float], str]:
    times = []
    encoding = "identity"
    for _ in range(samples):
        head_s, headers, _ = _fetch(port, f"/late?wait={LATE_WAIT_S}", coding, lambda d, n: None)
        times.append(head_s)
        encoding = headers.get("content-encoding", "identity")
    return times, encoding


def _server_cells(name: str, count: int, *, heads: int) -> dict[str, Any]:
    """Tokens per coding, the CSV sizes per coding and, for the reference servers (``heads``
    > 0), headers on time and tokens faster than the default flush_delay."""
    server = _Server(name, lifetime_s=300)
    cell: dict[str, Any] = {"tokens": {}, "csv": {}, "paced": {}, "heads": {}, "fast": {}}
    codings: tuple[str | None, ...] = (None,) if name == "none" else CODINGS
    try:
        for coding in codings:
            print(f"  streams_flush: {name} {coding or ''}", file=sys.stderr, flush=True)
            latencies, got = _tokens(server.port, coding, count)
            if got != (coding or "identity"):
                raise RuntimeError(f"{name}: asked for {coding}, got {got}")
            cell["tokens"][coding] = latencies
            if coding is not None:
                port, rows = server.port, CSV_ROWS[-1]
                cell["csv"][coding] = _csv_over_uvicorn(port, coding, rows, paced=False)
                cell["paced"][coding] = _csv_over_uvicorn(port, coding, rows, paced=True)
            if heads:
                cell["heads"][coding] = _head_times(server.port, coding, heads)
                fast = int(count * TOKEN_INTERVAL_S / FAST_INTERVAL_S)
                cell["fast"][coding] = _tokens(server.port, coding, fast, FAST_INTERVAL_S)[0]
    finally:
        server.close()
    return cell


def _label(ms: float) -> str:
    return f"{ms:g} ms (default)" if ms == DEFAULT_MS else f"{ms:g} ms"


def run(budget: Budget) -> Report:
    from asgi_compress.settings import DEFAULT_FLUSH_DELAY

    if DEFAULT_FLUSH_DELAY * 1000 != DEFAULT_MS:
        raise RuntimeError(f"default flush_delay is {DEFAULT_FLUSH_DELAY}; update DEFAULT_MS")
    count = 50 if budget.quick else 100
    heads = 2 if budget.quick else 3
    checks: list[Check] = []
    csv_table, wholes = _csv_table(checks)

    servers = {"none": "none", "0": "ours-delay-0"}
    servers |= {
        f"{ms:g}": ("ours" if ms == DEFAULT_MS else f"ours-delay-{ms:g}") for ms in SWEEP_MS
    }
    with_heads = ("none", "0", f"{DEFAULT_MS:g}")
    cells = {
        key: _server_cells(name, count, heads=heads if key in with_heads else 0)
        for key, name in servers.items()
    }

    token_table = Table(
        f"Token stream under uvicorn: {count} tokens of 40 B, one every "
        f"{TOKEN_INTERVAL_S * 1e3:.0f} ms; latency = decodable at the client - sent by the app",
        ["middleware", "coding", "flush_delay", "p50 ms", "p99 ms", "max ms", "target ms", "met"],
    )
    none_lat = cells["none"]["tokens"][None]
    token_table.add("no middleware", "-", "-", fmt(_percentile(none_lat, 0.5) * 1e3),
                    fmt(_percentile(none_lat, 0.99) * 1e3), fmt(max(none_lat) * 1e3),
                    "-", "-")  # fmt: skip
    for coding in CODINGS:
        for key, ms in ((f"{DEFAULT_MS:g}", DEFAULT_MS), ("0", 0.0)):
            lat = cells[key]["tokens"][coding]
            p99 = _percentile(lat, 0.99) * 1e3
            target = ms + TOKEN_SLACK_MS
            met = max(lat) * 1e3 <= target
            token_table.add("ours", coding, _label(ms) if ms else "0 (per message)",
                            fmt(_percentile(lat, 0.5) * 1e3), fmt(p99), fmt(max(lat) * 1e3),
                            fmt(target, 0), "yes" if met else "**no**")  # fmt: skip
            if ms:
                checks.append(Check(f"tokens, {coding}: every token within {target:g} ms",
                                    f"p50 {_percentile(lat, 0.5) * 1e3:.1f}, p99 {p99:.1f}, "
                                    f"max {max(lat) * 1e3:.1f} ms", met))  # fmt: skip
    token_table.notes += [
        f"p99 of {count} tokens is their second-largest; met = the largest within the target "
        "('every token').",
        "Client and server are separate processes on one machine: one CLOCK_MONOTONIC.",
    ]

    head_table = Table(
        f"Headers on time: a text/plain stream whose first body comes {LATE_WAIT_S:g} s after "
        f"its head; request -> response head at the client ({heads} requests each)",
        ["middleware", "coding", "flush_delay", "head after ms (median)", "max ms",
         "target ms", "Content-Encoding"],
    )  # fmt: skip
    for key, label in (("none", "no middleware"), (f"{DEFAULT_MS:g}", "ours"), ("0", "ours")):
        for coding, (times, encoding) in cells[key]["heads"].items():
            ms = 0.0 if key in ("none", "0") else DEFAULT_MS
            head_target = ms + HEAD_SLACK_MS if ms else None
            median_ms = sorted(times)[len(times) // 2] * 1e3
            head_table.add(label, coding or "-", "-" if key == "none" else _label(float(key)),
                           fmt(median_ms), fmt(max(times) * 1e3),
                           fmt(head_target, 0) if head_target else "-", encoding)  # fmt: skip
            if head_target is not None:
                checks.append(Check(f"headers on time, {coding}: head within {head_target:g} ms",
                                    f"max {max(times) * 1e3:.1f} ms",
                                    max(times) * 1e3 <= head_target))  # fmt: skip
    head_table.notes.append(
        "flush_delay=0 (per message) holds the head until the first body, as before issue 10."
    )

    fast_table = Table(
        f"A steady stream faster than flush_delay: 40-B tokens every "
        f"{FAST_INTERVAL_S * 1e3:g} ms for {count * TOKEN_INTERVAL_S:g} s, under uvicorn",
        ["middleware", "coding", "flush_delay", "p50 ms", "p99 ms", "max ms"],
    )
    for key, label in (("none", "no middleware"), (f"{DEFAULT_MS:g}", "ours"), ("0", "ours")):
        for coding, lat in cells[key]["fast"].items():
            fast_table.add(label, coding or "-", "-" if key == "none" else _label(float(key)),
                           fmt(_percentile(lat, 0.5) * 1e3), fmt(_percentile(lat, 0.99) * 1e3),
                           fmt(max(lat) * 1e3))  # fmt: skip
    for coding, lat in cells[f"{DEFAULT_MS:g}"]["fast"].items():
        target = DEFAULT_MS + TOKEN_SLACK_MS
        checks.append(Check(f"tokens every {FAST_INTERVAL_S * 1e3:g} ms, {coding}: every token "
                            f"within {target:g} ms", f"p50 {_percentile(lat, 0.5) * 1e3:.1f}, "
                            f"max {max(lat) * 1e3:.1f} ms", max(lat) * 1e3 <= target))  # fmt: skip
    fast_table.notes.append(
        "The flush deadline counts from the oldest unflushed byte: an app that never pauses "
        "for flush_delay is still flushed every flush_delay."
    )

    rows = CSV_ROWS[-1]
    sweep = Table(
        f"flush_delay sweep under uvicorn: CSV export ({rows:,} rows, one per message) size x "
        "whole; back to back, and paced (a 2 ms pause every 100 rows)",
        ["flush_delay", *(f"back to back {c}" for c in CODINGS),
         *(f"paced {c}" for c in CODINGS)],
    )  # fmt: skip
    sweep_tokens = Table(
        "flush_delay sweep under uvicorn: token latency p50 / p99 ms (a token every 20 ms)",
        ["flush_delay", *CODINGS],
    )
    for key in ("0", *(f"{ms:g}" for ms in SWEEP_MS)):
        cell = cells[key]
        label = "0 (per message)" if key == "0" else _label(float(key))
        sweep.add(label, *(fmt(cell["csv"][c] / wholes[(rows, c)]) for c in CODINGS),
                  *(fmt(cell["paced"][c] / wholes[(rows, c)]) for c in CODINGS))  # fmt: skip
        sweep_tokens.add(label, *(f"{_percentile(cell['tokens'][c], 0.5) * 1e3:.1f} / "
                                  f"{_percentile(cell['tokens'][c], 0.99) * 1e3:.1f}"
                                  for c in CODINGS))  # fmt: skip
    sweep.notes += [
        "Back to back: StreamingResponse over a sync generator (each row crosses a worker "
        "thread). Paced: an async generator that sleeps 2 ms every 100 rows. Read by the "
        "raw-socket client; whole = the in-process whole size above.",
        "A flush_delay shorter than the app's pauses flushes at each pause: the paced export "
        "then compresses like 100-row pieces.",
    ]
    sweep_tokens.notes.append(
        "Latency is flush_delay plus scheduling: the deadline counts from the token's arrival."
    )

    preamble = (
        "Figures from ONE run on a shared 2-core machine (other work ran meanwhile): single "
        "samples, not medians of rounds; read the latency tails with that in mind."
    )
    tables = [csv_table, token_table, head_table, fast_table, sweep, sweep_tokens]
    write_results("streams_flush", "Streams: coalesced flushing, token latency, headers on time",
                  tables, preamble)  # fmt: skip
    return Report("streams_flush", tables, checks)


if __name__ == "__main__":
    run(Budget.from_env())
