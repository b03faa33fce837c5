"""Memory one live stream encoder holds, and the ratio its window and tables give.

tracemalloc cannot see it: brotli and zstd allocate in C with ``malloc``. So each encoder
configuration runs in a fresh child process (``python -m benchmarks._encoder_memory SPEC N
FEED``) that makes ``N`` encoders side by side, feeds each ``FEED`` bytes of events (0: one
event) with a flush after every event, keeps them all alive and reports ``VmRSS`` growth
divided by ``N``: the pages the codec really touched, which is what idle streams cost.

A ``SPEC`` is ``ours:<coding>:<events|stream>`` (our encoder as the middleware makes it for
an event stream or any other stream) or a raw codec setting:
``br:<quality>:<lgwin>``, ``zstd:<level>:<window_log>:<hash_log>:<chain_log>:<strategy>:
<search_log>`` (0 = the level's own), ``zlib:<level>:<wbits>:<memLevel>`` (stdlib) or
``zlibng:...`` (zlib-ng).
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from .payloads import _sentence, json_document, sse_events

__all__ = ["RatioSet", "encoder_kib", "ratios", "stepper", "token_events"]

_ROOT = Path(__file__).resolve().parent.parent
Step = Callable[[bytes], bytes]


def token_events(count: int = 2000) -> list[bytes]:
    """LLM-style token events: one JSON chunk of a chat completion per word."""
    rng = random.Random(7)
    events = []
    for _ in range(count):
        word = _sentence(rng, 1, 2).split()[0]
        chunk = {"id": "chatcmpl-9xQ2k7", "object": "chat.completion.chunk",
                 "created": 1732170000, "model": "gpt-4o-mini",
                 "choices": [{"index": 0, "delta": {"content": " " + word},
                              "finish_reason": None}]}  # fmt: skip
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    return events


def stepper(spec: str) -> tuple[Step, object]:
    """``(flush, keep)`` for one fresh encoder of ``spec``: ``flush`` feeds a chunk and
    emits a sync point; ``keep`` is what must stay referenced for the encoder to live."""
    kind, *args = spec.split(":")
    if kind == "ours":
        from asgi_compress import Settings

        coding, profile = args
        encoder = Settings(algorithm=(coding,)).encoders[coding](events=profile == "events")
        return encoder.flush, encoder
    numbers = [int(a) for a in args]
    if kind == "br":
        import brotli

        quality, lgwin = numbers
        b = brotli.Compressor(quality=quality, lgwin=lgwin)
        return (lambda d: b.process(d) + b.flush()), b
    if kind in ("zlib", "zlibng"):
        module: ModuleType = zlib
        if kind == "zlibng":
            from zlib_ng import zlib_ng

            module = zlib_ng
        level, wbits, mem_level = numbers
        z = module.compressobj(level, zlib.DEFLATED, 16 + wbits, mem_level)
        return (lambda d: z.compress(d) + z.flush(zlib.Z_SYNC_FLUSH)), z
    if kind == "zstd":
        if sys.version_info >= (3, 14):
            from compression.zstd import CompressionParameter as P
            from compression.zstd import ZstdCompressor
        else:
            from backports.zstd import CompressionParameter as P
            from backports.zstd import ZstdCompressor

        names = (P.window_log, P.hash_log, P.chain_log, P.strategy, P.search_log)
        options: dict[int, int] = {P.compression_level: numbers[0]}
        given = zip(names, numbers[1:], strict=False)  # the spec may stop early
        options.update({name: value for name, value in given if value})
        c = ZstdCompressor(options=options)
        return (lambda d: c.compress(d, ZstdCompressor.FLUSH_BLOCK)), c
    raise ValueError(f"unknown encoder spec {spec!r}")


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _child(spec: str, count: int, feed: int) -> float:
    events = token_events()
    stepper(spec)[0](events[0])  # imports and lazily built tables before the baseline
    gc.collect()
    before = _rss_kib()
    kept = []
    for index in range(count):
        flush, keep = stepper(spec)
        fed, at = 0, index
        while True:
            event = events[at % len(events)]
            flush(event)
            fed, at = fed + len(event), at + 1
            if fed >= feed:
                break
        kept.append(keep)
    gc.collect()
    return (_rss_kib() - before) / count


def encoder_kib(spec: str, count: int, feed: int) -> float:
    """KiB of RSS one live encoder of ``spec`` holds after ``feed`` bytes of events."""
    command = [sys.executable, "-m", "benchmarks._encoder_memory", spec, str(count), str(feed)]
    done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"encoder memory child {spec} failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


class RatioSet:
    """The inputs the ratio columns are measured on (built once)."""

    def __init__(self) -> None:
        self.events = sse_events(500)  # 60-250 byte update events, ~75 KB
        self.tokens = token_events()  # ~190 byte token events, ~380 KB
        self.events_1mib = sse_events(7000)  # ~1.1 MB of distinct events
        self.document = json_document()  # 1 MiB JSON, as a non-event stream sends it

    def columns(self) -> Sequence[str]:
        return ("events", "tokens", "1 MiB of events", "1 MiB JSON, 256 KiB flushes")


def ratios(spec: str, inputs: RatioSet) -> list[float]:
    """Encoded / input bytes: each event flushed alone; the JSON flushed every 256 KiB."""
    result = []
    for events in (inputs.events, inputs.tokens, inputs.events_1mib):
        flush = stepper(spec)[0]
        result.append(sum(len(flush(e)) for e in events) / sum(map(len, events)))
    flush = stepper(spec)[0]
    doc = inputs.document
    step = 256 * 1024
    out = sum(len(flush(doc[i : i + step])) for i in range(0, len(doc), step))
    result.append(out / len(doc))
    return result


if __name__ == "__main__":
    print(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
