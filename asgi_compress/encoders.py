"""One small class per content coding, and a registry keyed by the HTTP token.

Every encoder speaks three verbs, as httpx's decoders do in reverse:

- ``compress(chunk)`` feeds data; the codec may keep it buffered and return ``b""``.
- ``flush(chunk=b"")`` feeds the optional chunk and emits everything so far as a sync point:
  the client can decode all of it now, and the stream stays open.
- ``finish(chunk=b"")`` feeds the optional chunk and ends the stream; the encoder is spent.

A one-shot body is ``finish(body)``: a single codec call, so the middleware costs what the
raw codec costs. An encoder is not thread-safe; the middleware never shares one between
threads at the same time.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, Protocol

import brotli

if sys.version_info >= (3, 14):
    from compression.zstd import CompressionParameter, ZstdCompressor
else:
    from backports.zstd import CompressionParameter, ZstdCompressor

ZLIB: ModuleType = zlib
"""The zlib implementation gzip and deflate use: zlib-ng when installed, else stdlib zlib."""
with contextlib.suppress(ImportError):
    # Same gzip and zlib formats as stdlib zlib, about 1.85x faster at level 6 with an equal
    # or better ratio (benchmarks/results/codecs.md): used when installed (the 'fast' extra).
    from zlib_ng import zlib_ng as ZLIB

__all__ = [
    "ENCODERS",
    "ZLIB",
    "BrotliEncoder",
    "DeflateEncoder",
    "Encoder",
    "GZipEncoder",
    "ZstdEncoder",
]


class Encoder(Protocol):
    """The interface every content coding implements."""

    encoding: ClassVar[str]

    def compress(self, chunk: bytes) -> bytes: ...

    def flush(self, chunk: bytes = b"") -> bytes: ...

    def finish(self, chunk: bytes = b"") -> bytes: ...


class _ZlibEncoder:
    """Shared body of gzip and deflate: the same DEFLATE stream, framed by ``wbits``."""

    encoding: ClassVar[str]
    _wbits: ClassVar[int]
    _zlib: ClassVar[ModuleType] = ZLIB

    __slots__ = ("_compressor", "_level")

    def __init__(self, level: int) -> None:
        self._level = level
        # Made on first use: a whole body is better served by one compress() call.
        self._compressor: Any = None

    def _stream(self) -> Any:
        c = self._compressor
        if c is None:
            c = self._compressor = self._zlib.compressobj(self._level, zlib.DEFLATED, self._wbits)
        return c

    def compress(self, chunk: bytes) -> bytes:
        result: bytes = self._stream().compress(chunk)
        return result

    def flush(self, chunk: bytes = b"") -> bytes:
        c = self._stream()
        result: bytes = (
            c.compress(chunk) + c.flush(zlib.Z_SYNC_FLUSH) if chunk else c.flush(zlib.Z_SYNC_FLUSH)
        )
        return result

    def finish(self, chunk: bytes = b"") -> bytes:
        c = self._compressor
        # stdlib zlib.compress() takes wbits from Python 3.11 on; zlib-ng's always does.
        if c is None and (self._zlib is not zlib or sys.version_info >= (3, 11)):
            result: bytes = self._zlib.compress(chunk, self._level, self._wbits)
            return result
        c = self._stream()
        result = c.compress(chunk) + c.flush() if chunk else c.flush()
        return result


class GZipEncoder(_ZlibEncoder):
    """``gzip`` (RFC 1952). zlib writes mtime 0, so equal bodies give equal bytes."""

    encoding = "gzip"
    _wbits = 16 + zlib.MAX_WBITS
    __slots__ = ()


class DeflateEncoder(_ZlibEncoder):
    """``deflate`` as HTTP means it: the zlib format (RFC 9110 section 8.4.1.2), not raw DEFLATE."""

    encoding = "deflate"
    _wbits = zlib.MAX_WBITS
    __slots__ = ()


# A stream's encoder lives as long as its client reads, so its window is memory held per open
# stream: 512 KiB (instead of br's and zstd's 4 MiB and more) holds a stalled br-4 stream to
# ~1.1 MiB and a zstd-3 one to ~1.3 MiB (from ~1.6 and ~1.8 MiB after 1 MiB of JSON), for
# 0-0.5% of ratio on this project's payloads (README, "Memory per open stream"). A whole body
# keeps the configured window: its encoder lives for one call.
STREAM_WINDOW_LOG = 19

ENCODERS: dict[str, Callable[..., Encoder]] = {
    "gzip": GZipEncoder,
    "deflate": DeflateEncoder,
}
"""The encoders by wire token."""


class BrotliEncoder:
    """``br`` (RFC 7932) through the ``brotli`` package."""

    encoding: ClassVar[str] = "br"
    __slots__ = ("_compressor", "_params")

    def __init__(self, quality: int, mode: int, lgwin: int, lgblock: int) -> None:
        self._params = {"mode": mode, "quality": quality, "lgwin": lgwin, "lgblock": lgblock}
        self._compressor: brotli.Compressor | None = None  # made on first use

    def _stream(self) -> brotli.Compressor:
        c = self._compressor
        if c is None:
            lgwin = min(self._params["lgwin"], STREAM_WINDOW_LOG)
            c = self._compressor = brotli.Compressor(**{**self._params, "lgwin": lgwin})
        return c

    def compress(self, chunk: bytes) -> bytes:
        result: bytes = self._stream().process(chunk)
        return result

    def flush(self, chunk: bytes = b"") -> bytes:
        c = self._stream()
        result: bytes = c.process(chunk) + c.flush() if chunk else c.flush()
        return result

    def finish(self, chunk: bytes = b"") -> bytes:
        c = self._compressor
        if c is None:  # a whole body: one call, exactly what the raw codec does
            result: bytes = brotli.compress(chunk, **self._params)
            return result
        result = c.process(chunk) + c.finish() if chunk else c.finish()
        return result


ENCODERS["br"] = BrotliEncoder


# RFC 9659 section 3: a zstd content coding must not need a window above 8 MB, and
# browsers refuse one. zstd's level table uses 2**23 up to level 19; levels 20-22 ask
# for 32-128 MB, so they get the window pinned to 2**23 (streamed or not).
_MAX_WINDOW_LOG = 23
_FIRST_LEVEL_WITH_LARGER_WINDOW = 20

_reusable = threading.local()
# A compressor keeps the tables of the largest body it compressed: 1.2 MB at level 3 and
# 51 MB at level 19 after 4 MiB, but at most ~5 MB at any level after 256 KiB. Only bodies
# up to this size reuse one; a larger body makes its own, freed with it (the ~8 us that
# costs is nothing next to compressing it).
_REUSE_MAX = 256 * 1024


def _reusable_compressor(level: int) -> ZstdCompressor:
    """This thread's compressor for whole bodies of at most ``_REUSE_MAX`` at ``level``.

    Making a ZstdCompressor costs ~8 us, 5% of a 100 KB body; after FLUSH_FRAME one is
    ready for the next frame. One per thread, so never used by two threads at once.
    """
    compressors: dict[int, ZstdCompressor] = _reusable.__dict__.setdefault("by_level", {})
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = _new_compressor(level)
    return compressor


def _new_compressor(level: int, *, window_log: int | None = None) -> ZstdCompressor:
    if window_log is None and level >= _FIRST_LEVEL_WITH_LARGER_WINDOW:
        window_log = _MAX_WINDOW_LOG
    if window_log is not None:
        options: dict[int, int] = {
            CompressionParameter.compression_level: level,
            CompressionParameter.window_log: window_log,
        }
        return ZstdCompressor(options=options)
    return ZstdCompressor(level=level)


class ZstdEncoder:
    """``zstd`` (RFC 8878, RFC 9659) with the window capped at 8 MB."""

    encoding: ClassVar[str] = "zstd"
    __slots__ = ("_compressor", "_level")

    def __init__(self, level: int) -> None:
        self._level = level
        self._compressor: ZstdCompressor | None = None  # made on first use

    def _stream(self) -> ZstdCompressor:
        c = self._compressor
        if c is None:
            c = self._compressor = _new_compressor(self._level, window_log=STREAM_WINDOW_LOG)
        return c

    def compress(self, chunk: bytes) -> bytes:
        return self._stream().compress(chunk)

    def flush(self, chunk: bytes = b"") -> bytes:
        return self._stream().compress(chunk, ZstdCompressor.FLUSH_BLOCK)

    def finish(self, chunk: bytes = b"") -> bytes:
        if self._compressor is not None:
            return self._compressor.compress(chunk, ZstdCompressor.FLUSH_FRAME)
        # A whole body: one FLUSH_FRAME call on a frame's first input lets zstd record
        # the content size and shrink the window to the input, as zstd.compress() does.
        if len(chunk) > _REUSE_MAX:
            return _new_compressor(self._level).compress(chunk, ZstdCompressor.FLUSH_FRAME)
        compressor = _reusable_compressor(self._level)
        try:
            return compressor.compress(chunk, ZstdCompressor.FLUSH_FRAME)
        except BaseException:
            del _reusable.by_level[self._level]  # its frame state is unknown now
            raise


ENCODERS["zstd"] = ZstdEncoder
