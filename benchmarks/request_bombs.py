"""Memory of a real uvicorn while it refuses decompression bombs (``decompress_requests``).

``python -m benchmarks.request_bombs`` starts uvicorn (h11, one process) serving this
module's ``app``: ``CompressMiddleware(decompress_requests=True)`` with the default limits
(10 MiB decoded, ratio 200) unless ``REQUEST_BOMBS_RATIO`` overrides the ratio, around two
routes: ``/buffer`` keeps the whole decoded body in memory (what ``await request.body()``
does), ``/stream`` only counts it. ``/mem`` reports the server's ``VmRSS`` and ``VmHWM``;
``/mem/reset`` resets the high-water mark (``/proc/self/clear_refs``). Linux only.

For each case: reset, read the baseline, send the bombs (1 or 16 at once, each 256 MiB of
zeros, so 1000x to 100000x expansion), read the peak. Printed as a markdown table and
written to ``benchmarks/results/request_bombs.md``.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import brotli
import httpx

from asgi_compress import CompressMiddleware
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.settings import DEFAULT_REQUEST_MAX_RATIO

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MiB = 1024 * 1024
BOMB = 256 * MiB
RESULTS = Path(__file__).parent / "results" / "request_bombs.md"


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/mem/reset":
        with open("/proc/self/clear_refs", "w") as clear_refs:  # noqa: ASYNC230 - procfs
            clear_refs.write("5")
    if path.startswith("/mem"):
        body = json.dumps({"rss": _status_kib("VmRSS"), "hwm": _status_kib("VmHWM")}).encode()
    else:
        kept = bytearray()
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if path == "/buffer":
                kept += chunk
            if not message.get("more_body", False):
                break
        body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


app = CompressMiddleware(
    _inner,
    decompress_requests=True,
    request_max_ratio=int(os.environ.get("REQUEST_BOMBS_RATIO", DEFAULT_REQUEST_MAX_RATIO)),
)


def _bomb(coding: str) -> bytes:
    block = bytes(MiB)
    if coding == "gzip":
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return b"".join(z.compress(block) for _ in range(BOMB // MiB)) + z.flush()
    if coding == "br":
        b = brotli.Compressor(quality=5)
        out: bytes = b"".join(b.process(block) for _ in range(BOMB // MiB)) + b.finish()
        return out
    if coding == "zstd":
        c = zstd.ZstdCompressor(level=3)
        return b"".join(c.compress(block) for _ in range(BOMB // MiB)) + c.flush()
    if coding == "gzip, br":
        nested: bytes = brotli.compress(_bomb("gzip"), quality=5)
        return nested
    raise ValueError(coding)


def _small(coding: str) -> bytes:
    data = b"warm-up"
    for token in coding.split(", "):
        data = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstd.compress}[token](data)
    return data


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/mem", timeout=1)
    except httpx.TransportError:
        return False
    return True


def _serve(port: int, ratio: int | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if ratio is not None:
        env["REQUEST_BOMBS_RATIO"] = str(ratio)
    command = [sys.executable, "-m", "uvicorn", "benchmarks.request_bombs:app", "--http", "h11"]
    command += ["--port", str(port), "--log-level", "warning", "--lifespan", "off"]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 20
    while not _answers(port):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    return process


def _case(base: str, route: str, coding: str, wire: bytes, parallel: int) -> dict[str, Any]:
    # One small request of the same coding first: lazy imports and first allocations.
    httpx.post(base + "/stream", content=_small(coding), headers={"Content-Encoding": coding})
    httpx.get(base + "/mem/reset")
    before = httpx.get(base + "/mem").json()

    def one(_: int) -> int:
        response = httpx.post(
            base + route, content=wire, headers={"Content-Encoding": coding}, timeout=60
        )
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        statuses = sorted(set(pool.map(one, range(parallel))))
    after = httpx.get(base + "/mem").json()
    return {"statuses": statuses, "peak_kib": after["hwm"] - before["rss"]}


def _speed_rows() -> list[str]:
    """In process: decoding a 7.7 MB JSON document through the middleware (64 KiB wire
    messages) against the library's one-shot decoder; median CPU time of 5 rounds."""
    rng = random.Random(3)
    doc = json.dumps(
        [{"id": i, "name": rng.randbytes(6).hex(), "v": rng.random()} for i in range(120_000)]
    ).encode()
    codecs: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
        "gzip": (lambda d: gzip.compress(d, 6), lambda w: zlib.decompress(w, 31)),
        "br": (lambda d: brotli.compress(d, quality=5), brotli.decompress),
        "zstd": (zstd.compress, zstd.decompress),
    }
    rows = [
        "| coding | middleware MB/s | one-shot library MB/s | 10 MiB takes |",
        "|---|---:|---:|---:|",
    ]
    for coding, (encode, decode) in codecs.items():
        wire = encode(doc)
        ours = statistics.median(
            _cpu(partial(anyio.run, _decode_in_process, wire, coding)) for _ in range(5)
        )
        raw = statistics.median(_cpu(partial(decode, wire)) for _ in range(5))
        rows.append(
            f"| {coding} | {len(doc) / ours / 1e6:.0f} | {len(doc) / raw / 1e6:.0f} "
            f"| {10 * MiB / (len(doc) / ours) * 1000:.0f} ms |"
        )
    return rows


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


async def _decode_in_process(wire: bytes, coding: str) -> None:
    step = 64 * 1024
    messages = [
        {"type": "http.request", "body": wire[i : i + step], "more_body": i + step < len(wire)}
        for i in range(0, len(wire), step)
    ]
    middleware = CompressMiddleware(_inner, decompress_requests=True, request_max_size=64 * MiB)

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        pass

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/stream",
        "headers": [(b"content-encoding", coding.encode())],
    }
    await middleware(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    speed = _speed_rows()
    print("\n".join(speed), flush=True)
    bombs = {coding: _bomb(coding) for coding in ("gzip", "br", "zstd", "gzip, br")}
    rows = [
        "| limits | route | coding | wire bytes | expansion | bombs at once | answers "
        "| peak RSS above baseline |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for ratio, label in ((None, "defaults (10 MiB, ratio 200)"), (0, "10 MiB, no ratio")):
        for route in ("/stream", "/buffer"):
            for coding, wire in bombs.items():
                for parallel in (1, 16):
                    # A fresh server per case: one case's freed heap must not hide another's.
                    port = _free_port()
                    process = _serve(port, ratio)
                    try:
                        result = _case(f"http://127.0.0.1:{port}", route, coding, wire, parallel)
                    finally:
                        process.terminate()
                        process.wait(10)
                    rows.append(
                        f"| {label} | {route} | {coding} | {len(wire):,} "
                        f"| {BOMB // len(wire):,}x | {parallel} | {result['statuses']} "
                        f"| {result['peak_kib'] / 1024:.1f} MiB |"
                    )
                    print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    RESULTS.write_text(
        "# Decompression bombs under uvicorn (python -m benchmarks.request_bombs)\n\n"
        "Peak RSS above baseline: the server's VmHWM after the bombs minus its VmRSS before\n"
        "them, in a fresh uvicorn process per row (after one warm-up request).\n\n"
        + text
        + "\n## Decoding speed, in process\n\n"
        + "\n".join(speed)
        + "\n"
    )


if __name__ == "__main__":
    main()
