"""Soak run: uvicorn serving ``benchmarks/soak_app.py``, driven hard, every response verified.

``python -m benchmarks.soak [--requests N] [--seconds S] [--concurrency C]`` starts uvicorn
on 127.0.0.1 in a subprocess (it stops by itself: see soak_app), then sends a deterministic
mix of requests from ``C`` concurrent httpx clients until ``N`` requests are done or ``S``
seconds have passed: small, JSON, large one-shot, streams, SSE, HEAD, conditional
(ETag / If-None-Match -> 304) and clients that disconnect mid-stream, with Accept-Encoding
values that ask for each coding, several, a q-weighted list, identity, or nothing.

Every response is checked: status; Content-Encoding is the coding the request should get;
the raw bytes decode (stdlib zlib, brotli, zstd: never our code) to exactly the expected
body; Content-Length, when sent, is the number of bytes on the wire; Vary names
Accept-Encoding; a 304 carries the validator the client sent; a client that leaves early
got a prefix of the right body. Meanwhile the server's RSS, open file descriptors and thread
count are sampled from ``/proc``; the first quarter of the measured run (after a warm-up)
is compared with the last. The run fails (exit status 1) on any failed or corrupted
response, a server error in its log, or a resource that grows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import httpx

from asgi_compress.cache import DEFAULT_CACHE_LEVELS

from .soak_app import etag_for, expected_body

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = ["Limits", "Report", "main", "run_soak"]

ROOT = Path(__file__).resolve().parent.parent

# Accept-Encoding values, and the coding the default server order (zstd, br, gzip, deflate)
# must answer each with.
ACCEPTS: list[tuple[str | None, str | None]] = [
    ("gzip", "gzip"),
    ("br", "br"),
    ("zstd", "zstd"),
    ("deflate", "deflate"),
    ("gzip, deflate, br, zstd", "zstd"),
    ("br;q=0.5, gzip;q=0.8", "gzip"),
    ("identity", None),
    (None, None),
]

# Request kinds and their weights in the mix.
KINDS = {
    "small": 12,
    "json": 14,
    "large": 8,
    "stream": 16,
    "sse": 10,
    "head": 10,
    "conditional": 10,
    "disconnect": 12,
}


@dataclass(frozen=True)
class Limits:
    """How much a resource may grow from the first quarter of the run to the last."""

    rss_ratio: float = 0.20
    rss_bytes: int = 10 * 1024 * 1024
    fds: int = 8
    threads: int = 2


@dataclass
class Sample:
    t: float
    done: int
    rss: int  # bytes
    fds: int
    threads: int


@dataclass
class Report:
    requests: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    codings: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    server_errors: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    measured_from: float = 0.0
    limits: Limits = field(default_factory=Limits)

    def quarters(self) -> tuple[list[Sample], list[Sample]]:
        measured = [s for s in self.samples if s.t >= self.measured_from]
        if len(measured) < 8:
            return measured, measured
        start, end = measured[0].t, measured[-1].t
        span = end - start
        first = [s for s in measured if s.t <= start + span / 4]
        last = [s for s in measured if s.t >= end - span / 4]
        return first, last

    def figures(self) -> dict[str, tuple[float, float, float, float]]:
        """metric -> (first-quarter median, first max, last-quarter median, last max)."""
        first, last = self.quarters()
        result = {}
        for metric in ("rss", "fds", "threads"):
            a = [float(getattr(s, metric)) for s in first] or [0.0]
            b = [float(getattr(s, metric)) for s in last] or [0.0]
            result[metric] = (statistics.median(a), max(a), statistics.median(b), max(b))
        return result

    def problems(self) -> list[str]:
        found = []
        if self.failure_count:
            found.append(f"{self.failure_count} failed or corrupted responses")
        if self.server_errors:
            found.append(f"{len(self.server_errors)} error lines in the server's log")
        first, last = self.quarters()
        if len(first) < 2 or len(last) < 2:
            found.append("too few resource samples to compare the quarters")
            return found
        # Medians: a leak moves the whole quarter; a momentary peak (a burst of large bodies
        # in flight) moves only its maximum.
        figures = self.figures()
        limits = self.limits
        rss_first, rss_last = figures["rss"][0], figures["rss"][2]
        allowed = max(rss_first * limits.rss_ratio, limits.rss_bytes)
        if rss_last > rss_first + allowed:
            found.append(f"RSS grew from {rss_first / 2**20:.1f} to {rss_last / 2**20:.1f} MiB")
        for metric, slack in (("fds", limits.fds), ("threads", limits.threads)):
            a, _, b, _ = figures[metric]
            if b > a + slack:
                found.append(f"{metric} grew from {a:.0f} to {b:.0f} (slack {slack})")
        return found

    def format(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        lines = [
            f"requests: {self.requests} in {self.seconds:.1f} s ({rate:.0f}/s), "
            f"failed or corrupted: {self.failure_count}, server errors: {len(self.server_errors)}",
            "kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())),
            "codings: " + ", ".join(f"{k} {n}" for k, n in sorted(self.codings.items())),
            "server resources, first quarter vs last quarter (median / max):",
        ]
        units = {"rss": (2**20, "MiB"), "fds": (1, ""), "threads": (1, "")}
        for metric, (m1, x1, m4, x4) in self.figures().items():
            scale, unit = units[metric]
            lines.append(
                f"  {metric:8} {m1 / scale:8.1f} / {x1 / scale:8.1f}  ->  "
                f"{m4 / scale:8.1f} / {x4 / scale:8.1f} {unit}"
            )
        first, last = self.quarters()
        lines.append(f"  ({len(self.samples)} samples; {len(first)} and {len(last)} compared)")
        lines += [f"failure: {f}" for f in self.failures[:20]]
        lines += [f"server: {e}" for e in self.server_errors[:20]]
        problems = self.problems()
        lines.append("verdict: " + ("FLAT AND CLEAN" if not problems else "; ".join(problems)))
        return "\n".join(lines)


# -- the server process --------------------------------------------------------------------


def read_proc(pid: int) -> tuple[int, int, int]:
    """(RSS in bytes, open file descriptors, threads) of a Linux process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


class Server:
    """uvicorn in a subprocess, on a socket we bind (no race for a free port)."""

    def __init__(self, lifetime: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - lives as long as we do
        fd = self.sock.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak_app", "--fd", str(fd)]
            + ["--lifetime", str(lifetime)],
            cwd=ROOT,
            pass_fds=[fd],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                httpx.get(self.url + "/small", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """Close the server's stdin (its cue for a graceful shutdown) and wait for it."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.sock.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self) -> None:
        self.log.close()


class Sampler(threading.Thread):
    """Reads the server's /proc figures every ``interval`` seconds."""

    def __init__(self, pid: int, progress: list[int], interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.progress = progress
        self.interval = interval
        self.samples: list[Sample] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                rss, fds, threads = read_proc(self.pid)
            except OSError:
                return
            self.samples.append(Sample(time.monotonic(), self.progress[0], rss, fds, threads))


# -- the client ----------------------------------------------------------------------------


class Decoder:
    """Incremental decoder for one content coding (stdlib zlib, brotli, zstd)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.impl: Any
        if coding == "gzip":
            self.impl = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self.impl = zlib.decompressobj(zlib.MAX_WBITS)
        elif coding == "br":
            self.impl = brotli.Decompressor()
        elif coding == "zstd":
            self.impl = zstd.ZstdDecompressor(
                options={zstd.DecompressionParameter.window_log_max: 23}  # RFC 9659
            )
        else:
            raise ValueError(f"unknown coding {coding!r}")

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        if self.coding == "br":
            return bytes(self.impl.process(data))
        out = bytearray(self.impl.decompress(data))
        while self.coding == "zstd" and self.impl.eof and self.impl.unused_data:
            rest = self.impl.unused_data  # a padding frame, then the data frame
            self.impl = zstd.ZstdDecompressor(
                options={zstd.DecompressionParameter.window_log_max: 23}
            )
            out += self.impl.decompress(rest)
        return bytes(out)

    @property
    def eof(self) -> bool:
        if self.coding == "br":
            return bool(self.impl.is_finished())
        return bool(self.impl.eof)


class Failure(Exception):
    pass


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


@dataclass(frozen=True)
class Request:
    kind: str
    seed: int
    n: int
    size: int
    accept: str | None
    coding: str | None  # what the response must be encoded with, for a compressible body

    @property
    def path(self) -> str:
        route = {"head": "json", "conditional": "etag", "disconnect": "slow"}.get(self.kind)
        if self.kind == "head":
            route = ("json", "large", "stream", "small")[self.seed % 4]
        return f"/{route or self.kind}?seed={self.seed}&n={self.n}&size={self.size}"

    @property
    def route(self) -> str:
        return self.path[1:].split("?")[0]

    def headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self.accept is not None:
            headers["accept-encoding"] = self.accept
        return headers

    def expected(self) -> bytes:
        return expected_body(self.route, self.seed, self.n, self.size)


def plan(rng: random.Random, seed: int) -> Request:
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    accept, coding = rng.choice(ACCEPTS)
    n = size = 0
    if kind == "stream":
        n = rng.randint(1, 20)
        size = rng.choice([50, 700, 4000, 20_000, 70_000])  # 70 kB: flushed on a thread
    elif kind == "sse":
        n = rng.randint(1, 15)
    elif kind == "disconnect":
        n = 200
        size = rng.choice([1000, 100_000])
    elif kind == "head":
        n, size = 3, 1000
    return Request(kind, seed, n, size, accept, coding)


def _coding(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("content-encoding")
    return value


def _encoded(request: Request, *, head: bool) -> bool:
    """Whether the response is to carry a coding: not below min_size (500), as a stream that
    ends before the app pauses is answered whole; and a HEAD without Content-Length (a
    stream's) is answered unencoded."""
    if request.route == "small":
        return False
    if request.route == "stream":
        return not head and request.n * request.size >= 500
    return True


def _verify_head(request: Request, response: httpx.Response, raw: bytes, *, head: bool) -> None:
    headers = response.headers
    coding = _coding(response)
    vary = [v.strip().lower() for v in headers.get_list("vary", split_commas=True)]
    _check("accept-encoding" in vary, f"Vary is {headers.get_list('vary')}")
    want = request.coding if _encoded(request, head=head) else None
    # A short stream is answered whole unless the app paused first (then it is a stream):
    # either is right, and which one depends on scheduling.
    short_stream = request.route == "stream" and not head and want is None
    _check(
        coding == want or (short_stream and coding == request.coding),
        f"Content-Encoding {coding!r}, expected {want!r}",
    )
    if "content-length" in headers and not head:
        _check(int(headers["content-length"]) == len(raw), "Content-Length is not the body's")


def _decode(coding: str | None, raw: bytes) -> bytes:
    if coding is None:
        return raw
    decoder = Decoder(coding)
    data = decoder.feed(raw)
    _check(decoder.eof, f"the {coding} stream is truncated")
    return data


async def fetch(
    client: httpx.AsyncClient, method: str, request: Request, **extra: str
) -> tuple[httpx.Response, bytes]:
    async with client.stream(method, request.path, headers=request.headers(**extra)) as response:
        raw = b"".join([c async for c in response.aiter_raw()])
    return response, raw


async def perform(client: httpx.AsyncClient, request: Request) -> str | None:
    """Send one planned request and verify the response; return the coding seen."""
    kind = request.kind
    if kind == "head":
        response, raw = await fetch(client, "HEAD", request)
        _check(response.status_code == 200, f"status {response.status_code}")
        _check(raw == b"", "a HEAD response has a body")
        _verify_head(request, response, raw, head=True)
        return _coding(response)
    if kind == "disconnect":
        async with client.stream("GET", request.path, headers=request.headers()) as response:
            _check(response.status_code == 200, f"status {response.status_code}")
            _verify_head(request, response, b"", head=True)
            raw = b""
            async for piece in response.aiter_raw():
                raw += piece
                if len(raw) >= 2 * request.size // 3 or len(raw) > 4096:
                    break  # and leave: the connection closes mid-stream
        coding = _coding(response)
        decoded = Decoder(coding).feed(raw) if coding else raw
        _check(request.expected().startswith(decoded), "the received part is not a prefix")
        return coding
    response, raw = await fetch(client, "GET", request)
    _check(response.status_code == 200, f"status {response.status_code}")
    _verify_head(request, response, raw, head=False)
    coding = _coding(response)
    _check(_decode(coding, raw) == request.expected(), "decoded body differs from the app's")
    if kind == "conditional":
        etag = response.headers.get("etag")
        want = etag_for(request.seed)
        if coding:
            want = want[:-1] + f':{coding}"'
            if coding in DEFAULT_CACHE_LEVELS:  # the default cache may promote its bytes
                want = "W/" + want
        _check(etag == want, f"ETag {etag!r}, expected {want!r}")
        again, raw = await fetch(client, "GET", request, **{"if-none-match": etag})
        _check(again.status_code == 304, f"conditional status {again.status_code}")
        _check(raw == b"", "a 304 has a body")
        _check(again.headers.get("etag") == etag, f"304 ETag {again.headers.get('etag')!r}")
    return coding


async def drive(
    url: str,
    *,
    requests: int,
    seconds: float,
    concurrency: int,
    seed: int,
    report: Report,
    progress: list[int],
    warmup: int,
    on_warm: Any,
) -> None:
    rng = random.Random(seed)
    plans = [plan(rng, i) for i in range(warmup + requests)]
    deadline = time.monotonic() + seconds
    next_index = 0
    # One client (one connection at a time) per worker: 64 clients, as on a real server. One
    # shared pool of 64 connections would measure httpx's pool instead (it slows ~10x).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def worker() -> None:
        nonlocal next_index
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            del client.headers["accept-encoding"]  # each request says what it accepts, if any
            while next_index < len(plans) and time.monotonic() < deadline:
                request = plans[next_index]
                next_index += 1
                try:
                    coding = await perform(client, request)
                except Exception as exc:  # a failed request is a finding, not a crash
                    report.failure_count += 1
                    if len(report.failures) < 50:
                        report.failures.append(f"{request}: {type(exc).__name__}: {exc}")
                else:
                    report.codings[coding or "identity"] += 1
                report.kinds[request.kind] += 1
                report.requests += 1
                progress[0] = report.requests
                if report.requests == warmup:
                    on_warm()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run_soak(
    *,
    requests: int,
    seconds: float,
    concurrency: int = 64,
    warmup: int | None = None,
    seed: int = 2026,
    interval: float = 0.1,
    limits: Limits | None = None,
) -> Report:
    """Serve, drive, sample; the report says what happened and whether it was clean."""
    if warmup is None:
        warmup = min(max(requests // 20, 200), 2000)
    report = Report(limits=limits or Limits())
    server = Server(lifetime=seconds + 120)
    try:
        server.wait_ready()
        progress = [0]
        sampler = Sampler(server.process.pid, progress, interval)
        sampler.start()

        def on_warm() -> None:
            report.measured_from = time.monotonic()

        started = time.monotonic()
        try:
            asyncio.run(
                drive(
                    server.url,
                    requests=requests,
                    seconds=seconds,
                    concurrency=concurrency,
                    seed=seed,
                    report=report,
                    progress=progress,
                    warmup=warmup,
                    on_warm=on_warm,
                )
            )
        finally:
            report.seconds = time.monotonic() - started
            sampler.stopped.set()
            sampler.join()
        report.samples = sampler.samples
        if not report.measured_from:
            report.measured_from = started
    finally:
        server.stop()
        output = server.output()
        server.close()
    for line in output.splitlines():
        if "Traceback" in line or "ERROR" in line or "Exception" in line:
            report.server_errors.append(line)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000, help="measured requests")
    parser.add_argument("--seconds", type=float, default=150, help="time bound for the run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    report = run_soak(
        requests=args.requests,
        seconds=args.seconds,
        concurrency=args.concurrency,
        seed=args.seed,
        interval=0.25,
    )
    print(report.format())
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
