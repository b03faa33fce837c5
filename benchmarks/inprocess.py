"""In-process: each middleware driven by synthetic ASGI messages, no server, no network.

Every case is one response shape (a one-shot body, a stream of chunks, a run of server-sent
events, a body below ``min_size``, a request without Accept-Encoding). For each case the
contenders run in the same interleaved rounds (see ``_common``):

- ``bare``: the app alone, the baseline every middleware's time is compared with;
- ``ours``: ``CompressMiddleware`` as shipped (chunks of ``thread_min_size`` and more are
  compressed on a worker thread), and ``ours (inline)`` with ``thread_min_size`` out of reach,
  so the cost of the thread hand-off is visible;
- the peers at our levels: Starlette's ``GZipMiddleware`` (level 6), starlette-compress (zstd 3,
  br 4, gzip 6), brotli-asgi (quality 4, generic mode as ours);
- ``raw``: the codec library each of them calls, doing the same work (one call for a one-shot
  body; feed + flush per chunk, then finish, for a stream).

``overhead = (t(middleware) - t(bare)) / t(raw)``, where each ``t`` is the median time per
request, and ``raw`` is the same library, level and chunking as that middleware. 1.00 means
the middleware costs exactly what its codec costs. For bodies that pass through, the table
gives the microseconds added per request over the bare app instead.

Every contender's output is decoded once with an independent decoder and compared with what
the app sent before anything is timed.

Run: ``python -m benchmarks inprocess``.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio

from asgi_compress import CompressMiddleware

from ._common import (
    Budget,
    Check,
    Report,
    Table,
    fmt,
    median,
    rotated,
    rounds_within,
    write_results,
)
from .codecs import RawCodec, decode, raw_codec, run_stream
from .payloads import PAYLOADS, json_api_response, json_document, small_json, sse_events

__all__ = ["Case", "run"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CODINGS = ("zstd", "br", "gzip", "deflate")
BROWSER_AE = "gzip, deflate, br, zstd"
INLINE = 1 << 62  # a thread_min_size no chunk reaches
JSON = b"application/json"
SSE = b"text/event-stream"


# -- the synthetic server side --------------------------------------------------------------


def make_scope(accept_encoding: str | None) -> Scope:
    """A GET as uvicorn would build it, with the headers a browser sends."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) bench"),
        (b"accept", b"*/*"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"connection", b"keep-alive"),
    ]
    if accept_encoding is not None:
        headers.insert(3, (b"accept-encoding", accept_encoding.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class CountingSend:
    """The cheapest server: counts body bytes and drops them."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.size += len(message.get("body", b""))


class RecordingSend:
    """Keeps every message, to check what a middleware produced."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(dict(message))

    def content_encoding(self) -> str:
        for name, value in self.messages[0].get("headers", ()):
            if name.lower() == b"content-encoding":
                return bytes(value).decode()
        return "identity"

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:] if "body" in m)


def oneshot_app(body: bytes, content_type: bytes) -> ASGIApp:
    """A Starlette ``Response``: start with Content-Length, then the whole body at once."""
    length = b"%d" % len(body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", length), (b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def stream_app(pieces: Sequence[bytes], content_type: bytes) -> ASGIApp:
    """A Starlette ``StreamingResponse``: one message per piece, then an empty last one."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type)],
            }
        )
        for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


# -- contenders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    """A middleware around the case's app, and the raw codec work it should cost."""

    name: str
    app: ASGIApp
    raw: RawCodec | None  # None: the body passes through, or no raw figure applies
    flushes: bool = True  # whether it flushes per chunk (what its raw figure must do too)


@dataclass(frozen=True)
class Case:
    """One response shape, one coding."""

    name: str
    app: ASGIApp
    scope: Scope
    body: bytes  # what the app sends, all messages joined
    pieces: tuple[bytes, ...] | None  # None: one-shot
    coding: str  # the expected Content-Encoding, "identity" if none
    content_type: bytes


def contenders(case: Case) -> list[Contender]:
    """Ours (default and, where a chunk reaches the threshold, inline) and the peers."""
    from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
    from starlette_compress import CompressMiddleware as StarletteCompress

    app, coding = case.app, case.coding
    ours = CompressMiddleware(app)
    chosen = coding if coding != "identity" else None
    result = [Contender("ours", ours, raw_codec(chosen) if chosen else None)]
    largest = max(case.pieces or (case.body,), key=len)
    if chosen and len(largest) >= ours.settings.thread_min_size:
        inline = CompressMiddleware(app, thread_min_size=INLINE)
        result.append(Contender("ours (inline)", inline, result[0].raw))

    passing = coding == "identity"
    if passing or coding == "gzip":
        excluded: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES
        if case.content_type == SSE:  # Starlette skips SSE by default; this asks for it
            excluded = tuple(t for t in excluded if t != "text/event-stream")
        starlette = GZipMiddleware(app, minimum_size=500, compresslevel=6,
                                   exclude_content_types=excluded)  # fmt: skip
        result.append(
            Contender(
                "Starlette GZip", starlette, None if passing else raw_codec("gzip", 6, "zlib")
            )
        )
    if passing or coding in ("zstd", "br", "gzip"):
        sc = StarletteCompress(app, minimum_size=500, zstd_level=3, brotli_quality=4, gzip_level=6)
        # Before Python 3.14 starlette-compress's zstd is python-zstandard; from 3.14, stdlib's.
        zstd_library = "zstandard" if sys.version_info < (3, 14) else None
        library = zstd_library if coding == "zstd" else "zlib" if coding == "gzip" else None
        raw = None if passing else raw_codec(coding, None, library)
        # starlette-compress flushes per message only for "streaming" types (SSE).
        flushes = case.pieces is None or case.content_type == SSE
        result.append(Contender("starlette-compress", sc, raw, flushes))
    try:
        from brotli_asgi import BrotliMiddleware
    except ImportError:  # the bench extra has it; a partial install just loses its rows
        return result
    if passing or coding == "br":
        ba = BrotliMiddleware(app, quality=4, mode="generic", minimum_size=400)
        result.append(Contender("brotli-asgi", ba, None if passing else raw_codec("br", 4)))
    return result


def raw_call(contender: Contender, case: Case) -> Callable[[], object] | None:
    raw = contender.raw
    if raw is None:
        return None
    if case.pieces is None:
        return partial(raw.oneshot, case.body)
    return partial(run_stream, raw, case.pieces, flush=contender.flushes)


def raw_key(contender: Contender) -> str:
    assert contender.raw is not None
    return f"raw {contender.raw.label}{'' if contender.flushes else ' no flush'}"


# -- measurement ----------------------------------------------------------------------------


async def _verify(case: Case, contender: Contender) -> tuple[str, int]:
    """Run once and check the output; return (Content-Encoding, encoded body bytes)."""
    recorder = RecordingSend()
    await contender.app(case.scope, receive, recorder)
    coding, encoded = recorder.content_encoding(), recorder.body()
    if coding != case.coding and not (
        contender.name == "brotli-asgi" and case.coding == "identity"
    ):
        raise AssertionError(f"{case.name}/{contender.name}: got {coding!r}, want {case.coding!r}")
    if decode(coding, encoded) != case.body:
        raise AssertionError(f"{case.name}/{contender.name}: output does not decode to the input")
    return coding, len(encoded)


@dataclass(frozen=True)
class Timing:
    """Median ns per request: ``wall`` (what a client waits) and ``cpu`` (the whole process's
    CPU time, worker threads included, so an offloaded chunk counts; and a noisy neighbour on
    the machine, which stretches wall time, does not)."""

    wall: float
    cpu: float


async def time_rounds(
    apps: dict[str, ASGIApp],
    raws: dict[str, Callable[[], object]],
    scope: Scope,
    budget: Budget,
) -> dict[str, Timing]:
    """Median times per request (apps) or per call (raws), all measured in the same rounds."""
    send = CountingSend()
    Batch = Callable[[int], Awaitable[tuple[int, int]]]

    def app_batch(app: ASGIApp) -> Batch:
        async def run_batch(n: int) -> tuple[int, int]:
            wall, cpu = time.perf_counter_ns(), time.process_time_ns()
            for _ in range(n):
                await app(scope, receive, send)
            return time.perf_counter_ns() - wall, time.process_time_ns() - cpu

        return run_batch

    def raw_batch(func: Callable[[], object]) -> Batch:
        async def run_batch(n: int) -> tuple[int, int]:
            wall, cpu = time.perf_counter_ns(), time.process_time_ns()
            for _ in range(n):
                func()
            return time.perf_counter_ns() - wall, time.process_time_ns() - cpu

        return run_batch

    runners = {name: app_batch(app) for name, app in apps.items()}
    runners.update({name: raw_batch(func) for name, func in raws.items()})
    sizes: dict[str, int] = {}
    rounds: dict[str, int] = {}
    target = budget.batch_s * 1e9
    # Warm-up, interleaved as the rounds will be: lazily built encoders, caches, the worker
    # thread, and the allocator (glibc's mmap threshold adapts to the first large frees, and
    # until it has, every large allocation page-faults afresh).
    for _ in range(2):
        for run in runners.values():
            await run(2)
    for name, run in runners.items():
        n = 1
        while (took := (await run(n))[0]) < target * 0.5 and n < 1 << 20:
            n *= 4
        sizes[name] = max(1, round(n * target / max(took, 1)))
        rounds[name] = rounds_within(budget, took / n * sizes[name], 1.5)
    walls: dict[str, list[float]] = {name: [] for name in runners}
    cpus: dict[str, list[float]] = {name: [] for name in runners}
    gc.collect()
    gc.disable()
    try:
        for index in range(budget.rounds):
            for name in rotated(list(runners), index):
                if index < rounds[name]:
                    wall, cpu = await runners[name](sizes[name])
                    walls[name].append(wall / sizes[name])
                    cpus[name].append(cpu / sizes[name])
    finally:
        gc.enable()
    return {name: Timing(median(walls[name]), median(cpus[name])) for name in runners}


@dataclass
class Row:
    case: Case
    contender: str
    time: Timing
    output: int
    overhead: float | None  # CPU: (middleware - bare) / raw
    overhead_wall: float | None
    added_us: float  # CPU us per request over the bare app
    raw_label: str
    vs_ours: float | None  # wall time / ours' wall time


async def measure(case: Case, budget: Budget) -> list[Row]:
    entries = contenders(case)
    outputs = {c.name: (await _verify(case, c))[1] for c in entries}
    apps: dict[str, ASGIApp] = {"bare": case.app}
    apps.update({c.name: c.app for c in entries})
    raws: dict[str, Callable[[], object]] = {}
    for c in entries:
        call = raw_call(c, case)
        if call is not None:
            raws.setdefault(raw_key(c), call)
    times = await time_rounds(apps, raws, case.scope, budget)
    bare, ours = times["bare"], times["ours"]
    rows = [Row(case, "bare app", bare, len(case.body), None, None, 0.0, "", None)]
    for c in entries:
        t = times[c.name]
        overhead = overhead_wall = None
        label = ""
        if c.raw is not None:
            key = raw_key(c)
            overhead = (t.cpu - bare.cpu) / times[key].cpu
            overhead_wall = (t.wall - bare.wall) / times[key].wall
            label = key.removeprefix("raw ")
        added = (t.cpu - bare.cpu) / 1e3
        rows.append(
            Row(
                case,
                c.name,
                t,
                outputs[c.name],
                overhead,
                overhead_wall,
                added,
                label,
                t.wall / ours.wall,
            )  # fmt: skip
        )
    return rows


# -- cases and tables -----------------------------------------------------------------------


def oneshot_cases() -> list[Case]:
    cases: list[Case] = []
    for payload, make in PAYLOADS.items():
        body = make()
        content_type = b"text/html; charset=utf-8" if payload.startswith("html") else JSON
        app = oneshot_app(body, content_type)
        cases += [Case(payload, app, make_scope(c), body, None, c, content_type) for c in CODINGS]
    return cases


def stream_cases() -> list[Case]:
    doc = json_document()
    pieces = tuple(doc[i * 4096 : (i + 1) * 4096] for i in range(256))
    events = tuple(sse_events())
    cases: list[Case] = []
    for name, parts, content_type in (
        ("256 x 4 KiB JSON", pieces, JSON),
        (f"SSE, {len(events)} events", events, SSE),
    ):
        app, body = stream_app(parts, content_type), b"".join(parts)
        cases += [Case(name, app, make_scope(c), body, parts, c, content_type) for c in CODINGS]
    return cases


def passthrough_cases() -> list[Case]:
    small, big = small_json(), json_api_response()
    return [
        Case(f"below min_size ({len(small)} B), AE: {BROWSER_AE}", oneshot_app(small, JSON),
             make_scope(BROWSER_AE), small, None, "identity", JSON),
        Case(f"no Accept-Encoding, {len(small)} B", oneshot_app(small, JSON),
             make_scope(None), small, None, "identity", JSON),
        Case(f"no Accept-Encoding, {len(big):,} B", oneshot_app(big, JSON),
             make_scope(None), big, None, "identity", JSON),
    ]  # fmt: skip


def _compress_table(title: str, rows: list[Row], notes: list[str]) -> Table:
    table = Table(
        title,
        ["case", "coding", "middleware", "req/s", "us/req", "output B", "overhead x raw (CPU)",
         "overhead x raw (wall)", "wall vs ours", "raw reference"],
    )  # fmt: skip
    for row in rows:
        table.add(
            row.case.name,
            row.case.coding,
            row.contender,
            fmt(1e9 / row.time.wall, 0),
            fmt(row.time.wall / 1e3, 1),
            fmt(row.output),
            fmt(row.overhead, 3),
            fmt(row.overhead_wall, 3),
            fmt(row.vs_ours, 2),
            row.raw_label,
        )
    table.notes += notes
    return table


def _passthrough_table(rows: list[Row]) -> Table:
    table = Table(
        "Bodies that pass through: time added per request",
        ["case", "middleware", "req/s", "us/req", "added us/req (CPU)", "added us/req (wall)",
         "added vs starlette-compress (CPU)"],
    )  # fmt: skip
    by_case: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_case.setdefault(row.case.name, {})[row.contender] = row
    for case_name, contenders_rows in by_case.items():
        bare = contenders_rows["bare app"]
        sc = contenders_rows.get("starlette-compress")
        for name, row in contenders_rows.items():
            versus = "" if sc is None or name == "bare app" else fmt(row.added_us / sc.added_us, 2)
            table.add(case_name, name, fmt(1e9 / row.time.wall, 0), fmt(row.time.wall / 1e3, 2),
                      fmt(row.added_us, 2), fmt((row.time.wall - bare.time.wall) / 1e3, 2),
                      versus)  # fmt: skip
    table.notes.append(
        "added us/req = median time per request through the middleware minus the bare app's, "
        "measured in the same rounds (CPU: process CPU time; wall: elapsed). brotli-asgi hands "
        "a request without 'br' or 'gzip' in Accept-Encoding straight to the app."
    )
    return table


_NOTES = [
    "overhead x raw = (t(middleware) - t(bare app)) / t(raw), medians per request; raw = the "
    "library that middleware calls, same level and chunking (see 'raw reference'). CPU = the "
    "process's CPU time, worker threads included; wall = elapsed time, which for an offloaded "
    "chunk includes the thread hand-off's latency.",
    "wall vs ours = wall time per request / ours'; below 1 means faster than ours.",
    "ours (inline) = thread_min_size out of reach: everything compressed on the event loop. "
    "Rows without it have no chunk at the thread_min_size threshold.",
]


def checks(oneshot: list[Row], streams: list[Row], passing: list[Row]) -> list[Check]:
    result = []
    big = [r for r in oneshot if len(r.case.body) >= 64 * 1024 and r.overhead is not None]

    def med(contender: str, attr: str) -> float:
        values = [getattr(r, attr) for r in big if r.contender == contender]
        return median(values) if values else float("nan")

    cpu, wall = med("ours", "overhead"), med("ours", "overhead_wall")
    # What a thread_min_size of 128 KiB would give: the 100 KB bodies inline, 1 MiB offloaded.
    what_if = [
        r.overhead
        for r in big
        if r.overhead is not None
        and (
            (r.contender == "ours (inline)" and len(r.case.body) < 128 * 1024)
            or (r.contender == "ours" and len(r.case.body) >= 128 * 1024)
        )
    ]
    inline_cpu, inline_wall = (
        med("ours (inline)", "overhead"),
        med("ours (inline)", "overhead_wall"),
    )
    result.append(
        Check(
            "one-shot >= 64 KiB: overhead <= 1.03 (median over payloads and codings)",
            f"as shipped: CPU {cpu:.3f}, wall {wall:.3f}; "
            f"inline: CPU {inline_cpu:.3f}, wall {inline_wall:.3f}; with thread_min_size "
            f"128 KiB: CPU {median(what_if) if what_if else float('nan'):.3f}",
            cpu <= 1.03,
        )
    )
    for kind in ("256 x 4 KiB", "SSE"):
        ours = [r for r in streams if r.contender == "ours" and r.case.name.startswith(kind)]
        if ours:
            detail = ", ".join(f"{r.case.coding} {r.overhead:.3f}" for r in ours if r.overhead)
            result.append(
                Check(
                    f"stream {kind}, flush per chunk: <= 1.05x raw (CPU), every coding",
                    detail,
                    all(r.overhead is not None and r.overhead <= 1.05 for r in ours),
                )
            )
    by_case: dict[str, dict[str, Row]] = {}
    for row in passing:
        by_case.setdefault(row.case.name, {})[row.contender] = row
    for case_name, rows in by_case.items():
        ours_row, sc, bare = rows["ours"], rows["starlette-compress"], rows["bare app"]
        ours_wall = (ours_row.time.wall - bare.time.wall) / 1e3
        sc_wall = (sc.time.wall - bare.time.wall) / 1e3
        result.append(
            Check(
                f"{case_name}: added time < starlette-compress's",
                f"CPU: ours +{ours_row.added_us:.2f} us, starlette-compress +{sc.added_us:.2f} us"
                f" (wall: +{ours_wall:.2f} vs +{sc_wall:.2f})",
                ours_row.added_us < sc.added_us,
            )
        )
    return result


async def _main(budget: Budget) -> Report:
    oneshot_rows: list[Row] = []
    for case in oneshot_cases():
        oneshot_rows += await measure(case, budget)
    stream_rows: list[Row] = []
    for case in stream_cases():
        stream_rows += await measure(case, budget)
    passing_rows: list[Row] = []
    for case in passthrough_cases():
        passing_rows += await measure(case, budget)
    tables = [
        _compress_table("One-shot bodies", oneshot_rows, _NOTES),
        _compress_table(
            "Streams, one message per chunk",
            stream_rows,
            [
                *_NOTES,
                "starlette-compress flushes per message only for text/event-stream: its JSON "
                "stream rows are compared with a raw stream that does not flush either "
                "(and its output is smaller for it).",
                "Starlette GZip excludes text/event-stream by default; the SSE rows pass it "
                "exclude_content_types without it.",
            ],  # fmt: skip
        ),
        _passthrough_table(passing_rows),
    ]
    report = Report("inprocess", tables, checks(oneshot_rows, stream_rows, passing_rows))
    report.charts = {
        "In-process, 1 MiB JSON one-shot: overhead x raw codec (lower is better)": {
            f"{r.contender} {r.case.coding}": r.overhead
            for r in oneshot_rows
            if r.case.name == "json-1m" and r.overhead is not None
        }
    }
    return report


def run(budget: Budget) -> Report:
    report = anyio.run(_main, budget)
    write_results("inprocess", "In-process: middleware vs raw codec vs peers", report.tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())
