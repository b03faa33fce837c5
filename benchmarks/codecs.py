"""Raw codecs, the physical limit: MB/s and ratio per coding, level and chunking.

For each payload and coding (at its fastest, default and densest sensible level) the codec
library is called directly, with no ASGI around it:

- one-shot: a single call on the whole body, as a one-message response needs;
- 64 KiB and 4 KiB: the body cut into chunks, each fed and flushed (``Z_SYNC_FLUSH``, brotli
  ``flush()``, zstd ``FLUSH_BLOCK``), then the stream finished: what a streamed response with
  a flush per message costs.

Then the same gzip/deflate formats through zlib-ng and ISA-L (``isal``) beside stdlib zlib.
ISA-L has levels 0-3 only, none of which is zlib's level scale, so every ISA-L level is shown
and matched to zlib levels by the ratio it reaches, never by its number.

Run: ``python -m benchmarks codecs`` (or ``python -m benchmarks.codecs``).
"""

from __future__ import annotations

import importlib.util
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Protocol

import brotli

from ._common import Budget, Report, Table, fmt, time_sync_rounds, write_results
from .payloads import PAYLOADS, chunks

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = [
    "LEVELS",
    "RawCodec",
    "Stream",
    "decode",
    "our_zlib",
    "raw_codec",
    "run",
    "run_stream",
]

# coding -> (fastest, default, densest) sensible levels for responses made on the fly.
# deflate's default is zlib's -1, which zlib defines as level 6.
LEVELS: dict[str, tuple[int, int, int]] = {
    "zstd": (1, 3, 19),
    "br": (1, 4, 11),
    "gzip": (1, 6, 9),
    "deflate": (1, 6, 9),
}
DEFAULT_LEVEL = {"zstd": 3, "br": 4, "gzip": 6, "deflate": -1}
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_ZLIB_NAMES = {"zlib": "zlib", "zlib_ng.zlib_ng": "zlib-ng", "isal.isal_zlib": "isal"}


class Stream(Protocol):
    """A streaming encoder: ``flush`` is a sync point per chunk, ``finish`` ends the stream."""

    def compress(self, chunk: bytes) -> bytes: ...

    def flush(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True)
class RawCodec:
    """One library at one level: a one-shot call and a streaming encoder factory."""

    coding: str
    library: str
    level: int
    oneshot: Callable[[bytes], bytes]
    stream: Callable[[], Stream]

    @property
    def label(self) -> str:
        return f"{self.coding}-{self.level} ({self.library})"


class _ZlibStream:
    __slots__ = ("_compressor", "_sync")

    def __init__(self, module: ModuleType, level: int, wbits: int) -> None:
        self._compressor = module.compressobj(level, module.DEFLATED, wbits)
        self._sync: int = module.Z_SYNC_FLUSH

    def compress(self, chunk: bytes) -> bytes:
        result: bytes = self._compressor.compress(chunk)
        return result

    def flush(self, chunk: bytes) -> bytes:
        c = self._compressor
        result: bytes = c.compress(chunk) + c.flush(self._sync)
        return result

    def finish(self) -> bytes:
        result: bytes = self._compressor.flush()
        return result


class _BrotliStream:
    __slots__ = ("_compressor",)

    def __init__(self, quality: int) -> None:
        self._compressor = brotli.Compressor(quality=quality)

    def compress(self, chunk: bytes) -> bytes:
        result: bytes = self._compressor.process(chunk)
        return result

    def flush(self, chunk: bytes) -> bytes:
        c = self._compressor
        result: bytes = c.process(chunk) + c.flush()
        return result

    def finish(self) -> bytes:
        result: bytes = self._compressor.finish()
        return result


class _ZstdStream:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        self._compressor = zstd.ZstdCompressor(level=level)

    def compress(self, chunk: bytes) -> bytes:
        return self._compressor.compress(chunk)

    def flush(self, chunk: bytes) -> bytes:
        return self._compressor.compress(chunk, zstd.ZstdCompressor.FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._compressor.flush(zstd.ZstdCompressor.FLUSH_FRAME)


class _ZstandardStream:
    """python-zstandard, the zstd library starlette-compress uses before Python 3.14."""

    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        import zstandard

        self._compressor = zstandard.ZstdCompressor(level=level).compressobj()

    # The results are annotated: without the bench extra, mypy sees zstandard as Any.
    def compress(self, chunk: bytes) -> bytes:
        out: bytes = self._compressor.compress(chunk)
        return out

    def flush(self, chunk: bytes) -> bytes:
        import zstandard

        c = self._compressor
        out: bytes = c.compress(chunk) + c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return out

    def finish(self) -> bytes:
        out: bytes = self._compressor.flush()
        return out


def our_zlib() -> ModuleType:
    """The zlib-compatible module asgi_compress's gzip/deflate encoders call (zlib-ng when
    installed, else stdlib zlib): the raw figure an overhead factor divides by must come
    from the same library."""
    from asgi_compress.codecs.encoders import ZLIB

    return ZLIB


def _zlib_module(library: str) -> ModuleType:
    if library == "zlib":
        return zlib
    if library == "zlib-ng":
        from zlib_ng import zlib_ng

        module: ModuleType = zlib_ng  # annotated: Any without the bench extra
        return module
    if library == "isal":
        from isal import isal_zlib

        isal_module: ModuleType = isal_zlib  # annotated: Any without the bench extra
        return isal_module
    raise ValueError(library)


def raw_codec(coding: str, level: int | None = None, library: str | None = None) -> RawCodec:
    """The raw codec for ``coding`` at ``level`` (default: asgi_compress's default level).

    ``library`` picks the implementation: for gzip/deflate ``zlib``, ``zlib-ng`` or ``isal``
    (default: the one asgi_compress uses); for zstd ``backports.zstd`` (default) or
    ``zstandard``.
    """
    level = DEFAULT_LEVEL[coding] if level is None else level
    if coding in _WBITS:
        module = _zlib_module(library) if library else our_zlib()
        wbits = _WBITS[coding]
        name = _ZLIB_NAMES.get(module.__name__, module.__name__)
        compress: Callable[[bytes, int, int], bytes] = module.compress

        def zlib_oneshot(data: bytes) -> bytes:
            return compress(data, level, wbits)

        return RawCodec(
            coding, name, level, zlib_oneshot, lambda: _ZlibStream(module, level, wbits)
        )
    if coding == "br":

        def br_oneshot(data: bytes) -> bytes:
            result: bytes = brotli.compress(data, quality=level)
            return result

        return RawCodec(coding, "brotli", level, br_oneshot, lambda: _BrotliStream(level))
    if coding == "zstd":
        if library == "zstandard":
            import zstandard

            compressor = zstandard.ZstdCompressor(level=level)
            return RawCodec(
                coding, "zstandard", level, compressor.compress, lambda: _ZstandardStream(level)
            )

        def zstd_oneshot(data: bytes) -> bytes:
            return zstd.compress(data, level)

        return RawCodec(coding, "backports.zstd", level, zstd_oneshot, lambda: _ZstdStream(level))
    raise ValueError(coding)


def run_stream(codec: RawCodec, pieces: Sequence[bytes], *, flush: bool = True) -> int:
    """Encode ``pieces`` as one stream (a sync flush after each if ``flush``); output size."""
    encoder = codec.stream()
    step = encoder.flush if flush else encoder.compress
    size = 0
    for piece in pieces:
        size += len(step(piece))
    return size + len(encoder.finish())


def _stream_bytes(codec: RawCodec, pieces: Sequence[bytes]) -> bytes:
    encoder = codec.stream()
    return b"".join([*map(encoder.flush, pieces), encoder.finish()])


def decode(coding: str, data: bytes) -> bytes:
    """Decode with an independent decoder (stdlib zlib, brotli, the zstd module)."""
    if coding in _WBITS:
        d = zlib.decompressobj(_WBITS[coding])
        return d.decompress(data) + d.flush()
    if coding == "br":
        result: bytes = brotli.decompress(data)
        return result
    if coding == "zstd":
        return zstd.decompress(data)
    if coding == "identity":
        return data
    raise ValueError(coding)


_MODES = (("one-shot", 0), ("64 KiB + flush", 64 * 1024), ("4 KiB + flush", 4 * 1024))


def _measure(codec: RawCodec, data: bytes, budget: Budget) -> list[tuple[str, float, float]]:
    """(mode, MB/s, ratio) for each mode, after checking each output decodes to ``data``."""
    contenders: dict[str, Callable[[], object]] = {}
    sizes: dict[str, int] = {}
    for mode, size in _MODES:
        call: Callable[[], object]
        if size == 0:
            out = codec.oneshot(data)
            call = partial(codec.oneshot, data)
        else:
            pieces = list(chunks(data, size))
            out = _stream_bytes(codec, pieces)
            call = partial(run_stream, codec, pieces)
        if decode(codec.coding, out) != data:
            raise AssertionError(f"{codec.label} {mode}: output does not decode to the input")
        sizes[mode] = len(out)
        contenders[mode] = call
    times = time_sync_rounds(contenders, budget, max_total_s=0.6)
    return [(mode, len(data) / times[mode] * 1e3, len(data) / sizes[mode]) for mode, _ in _MODES]


def codec_tables(budget: Budget) -> list[Table]:
    """One table per payload: every coding at three levels, one-shot and streamed."""
    tables = []
    for payload_name, make in PAYLOADS.items():
        data = make()
        columns = ["coding", "level", "library"]
        for mode, _ in _MODES:
            columns += [f"{mode} MB/s", f"{mode} ratio"]
        table = Table(f"Raw codecs: {payload_name} ({len(data):,} bytes)", columns)
        for coding, levels in LEVELS.items():
            for level in levels:
                if len(data) > 500_000 and level == levels[2] and coding in ("br", "zstd"):
                    continue  # br-11 and zstd-19 take seconds per MiB: shown on the smaller bodies
                codec = raw_codec(coding, level)
                cells = [coding, str(level), codec.library]
                for _, speed, ratio in _measure(codec, data, budget):
                    cells += [fmt(speed, 1), fmt(ratio)]
                table.add(*cells)
        table.notes.append(
            "MB/s = input megabytes (10^6) per second of one core; ratio = input / output bytes."
        )
        table.notes.append(
            "Streamed modes feed each chunk and flush it (zlib Z_SYNC_FLUSH, brotli flush(), "
            "zstd FLUSH_BLOCK), then finish the stream."
        )
        if len(data) > 500_000:
            table.notes.append("br-11 and zstd-19 are left out here (seconds per MiB).")
        tables.append(table)
    return tables


EQUAL_RATIO = 0.005  # a ratio within 0.5% of another counts as equal


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def zlib_alternatives_table(budget: Budget) -> Table:
    """stdlib zlib vs zlib-ng vs ISA-L, same gzip format, every payload, side by side."""
    candidates: list[tuple[str, int]] = [("zlib", 1), ("zlib", 6), ("zlib", 9)]
    candidates += [("zlib-ng", 1), ("zlib-ng", 6), ("zlib-ng", 9)]
    candidates += [("isal", level) for level in range(4)]
    installed = {"zlib": True, "zlib-ng": _installed("zlib_ng"), "isal": _installed("isal")}
    codecs = {
        (library, level): raw_codec("gzip", level, library)
        for library, level in candidates
        if installed[library]
    }
    payloads = {name: make() for name, make in PAYLOADS.items()}
    # (library, level) -> payload -> (one-shot MB/s, ratio, 64 KiB-flush MB/s)
    results: dict[tuple[str, int], dict[str, tuple[float, float, float]]] = {
        key: {} for key in codecs
    }
    for name, data in payloads.items():
        pieces = list(chunks(data, 64 * 1024))
        sizes: dict[tuple[str, int], int] = {}
        for key, codec in codecs.items():
            out = codec.oneshot(data)
            if decode("gzip", out) != data or decode("gzip", _stream_bytes(codec, pieces)) != data:
                raise AssertionError(f"{codec.label}: output does not decode to the input")
            sizes[key] = len(out)
        # Every library in the same interleaved rounds, so that noise hits them alike.
        oneshot = time_sync_rounds(
            {f"{k}": partial(c.oneshot, data) for k, c in codecs.items()}, budget, max_total_s=0.6
        )
        streamed = time_sync_rounds(
            {f"{k}": partial(run_stream, c, pieces) for k, c in codecs.items()},
            budget,
            max_total_s=0.6,
        )
        for key in codecs:
            results[key][name] = (
                len(data) / oneshot[f"{key}"] * 1e3,
                len(data) / sizes[key],
                len(data) / streamed[f"{key}"] * 1e3,
            )
    columns = ["library", "level"]
    for name in payloads:
        columns += [f"{name} MB/s", f"{name} ratio", f"{name} 64K-flush MB/s"]
    columns += ["densest stdlib level matched at equal-or-better ratio: speed-up"]
    table = Table("gzip through stdlib zlib, zlib-ng and ISA-L (same gzip format)", columns)
    for (library, level), per_payload in results.items():
        cells = [library, str(level)]
        for name in payloads:
            speed, ratio, stream_speed = per_payload[name]
            cells += [fmt(speed, 1), fmt(ratio, 3), fmt(stream_speed, 1)]
        cells.append(_versus_zlib(library, per_payload, results))
        table.add(*cells)
    table.notes += [
        "ISA-L levels are 0-3 (its own scale, 3 densest); they are not zlib levels, so each "
        "row is matched by ratio: the last column names the densest stdlib zlib level (1, 6 "
        f"or 9) whose ratio the row equals (within {EQUAL_RATIO:.1%}) or beats on every "
        "payload, and the row's one-shot and 64 KiB-flush speed against it (median over "
        "payloads).",
        "All libraries run in the same interleaved rounds per payload. Every output is "
        "decoded by stdlib zlib and compared with the input.",
    ]
    return table


def _versus_zlib(
    library: str,
    row: dict[str, tuple[float, float, float]],
    results: dict[tuple[str, int], dict[str, tuple[float, float, float]]],
) -> str:
    """The densest stdlib zlib level this row matches in ratio everywhere, and the speed-up."""
    if library == "zlib":
        return "-"
    middle = len(row) // 2
    best: tuple[int, float, float, float] | None = None
    for (other, level), reference in results.items():
        if other != "zlib":
            continue
        if all(row[p][1] >= reference[p][1] * (1 - EQUAL_RATIO) for p in row):
            oneshot = sorted(row[p][0] / reference[p][0] for p in row)[middle]
            streamed = sorted(row[p][2] / reference[p][2] for p in row)[middle]
            worst = min(row[p][1] / reference[p][1] - 1 for p in row)
            if best is None or level > best[0]:
                best = (level, oneshot, streamed, worst)
    if best is None:
        return "none (ratio below zlib-1's)"
    level, oneshot, streamed, worst = best
    return (
        f"zlib-{level}: {oneshot:.2f}x one-shot, {streamed:.2f}x 64K-flush "
        f"(ratio {worst:+.1%} worst)"
    )


def run(budget: Budget) -> Report:
    """Measure, print and write ``results/codecs.md``."""
    tables = [*codec_tables(budget), zlib_alternatives_table(budget)]
    write_results("codecs", "Raw codecs (the physical limit)", tables)
    return Report("codecs", tables)


if __name__ == "__main__":
    run(Budget.from_env())
