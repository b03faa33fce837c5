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
    from compression.zstd import CompressionParameter, Strategy, ZstdCompressor
else:
    from backports.zstd import CompressionParameter, Strategy, ZstdCompressor

ZLIB: ModuleType = zlib
"""The zlib implementation gzip and deflate use: zlib-ng when installed, else stdlib zlib."""
with contextlib.suppress(ImportError):
    # Same gzip and zlib formats as stdlib zlib, about 1.85x faster at level 6 with an equal
    # or better ratio (benchmarks/results/codecs.md): used when installed (the 'fast' extra).
    from zlib_ng import zlib_ng as ZLIB

__all__ = [
    "ENCODERS",
    "EVENT_WINDOW_LOG",
    "HEAVY_EVENT_CODINGS",
    "ZLIB",
    "BrotliEncoder",
    "DeflateEncoder",
    "Encoder",
    "EncoderFactory",
    "GZipEncoder",
    "ZstdEncoder",
]


class Encoder(Protocol):
    """The interface every content coding implements."""

    encoding: ClassVar[str]

    def compress(self, chunk: bytes) -> bytes: ...

    def flush(self, chunk: bytes = b"") -> bytes: ...

    def finish(self, chunk: bytes = b"") -> bytes: ...


class EncoderFactory(Protocol):
    """How the middleware makes an encoder: ``events=True`` for an event stream's (see
    :data:`EVENT_WINDOW_LOG`)."""

    def __call__(self, *, events: bool = False) -> Encoder: ...


# An event stream (text/event-stream) lives as long as its client listens and sits idle
# between events, so whatever its encoder holds is held per open client: 10,000 clients
# hold it 10,000 times. Its encoders get a 64 KiB window and small match tables instead
# of the stream settings below, measured to cost 0-3% of ratio on events
# (benchmarks/results/stream_memory.md):
# - br: lgwin 16 and quality at most 3. Qualities 2-3 clear a 256 KiB hash table, 4 a
#   512 KiB one; 0-1 hold little but compress each flushed event alone (2-3x the bytes).
# - zstd: window_log 16 and a binary-tree matcher (btlazy2) on a 2**10-entry hash and a
#   2**11-entry tree, search_log 4: ~60 KiB held after one event (~47 KiB of it is zstd's
#   own floor, tables of 2**6 hold 48), against ~815 KiB for level 3's tables and ~85 KiB
#   for the 2**13-entry lazy matcher used before (which put 10,000 streams at 1.00 GiB
#   under uvicorn). Against level 3 at the same window: +0.4% bytes on events, +0.1% on
#   tokens, +1.7% on 1 MiB of events; a 2**11 hash (64 KiB) beats level 3 on all three, a
#   2**10 tree (56 KiB) costs +4.4% on events. Lazy's row matcher ignores chain_log and needs
#   2**13 entries for this ratio; btlazy2 spends ~10 us per event instead of ~7.
# - gzip/deflate: stdlib zlib at memLevel 4 (a 2**11-entry hash, ~26 KiB held; memLevel 8
#   holds ~90 KiB). zlib-ng clears a fixed 128 KiB hash table and its window (~207 KiB)
#   whatever memLevel says, so event streams never use it.
EVENT_WINDOW_LOG = 16
HEAVY_EVENT_CODINGS = frozenset(("br",))
"""Codings whose event-stream encoder holds several times what the others' do: br's ~262 KiB
floor (its hash table at quality 2-3; the binding exposes no hash size, and lgwin, lgblock and
mode change nothing) against ~60 KiB for zstd and ~24 KiB for gzip, for more bytes on events
than either. An event stream offers them last among the codings a client ranks equally."""
_EVENT_BR_QUALITY = 3
_EVENT_ZSTD_HASH_LOG = 10
_EVENT_ZSTD_CHAIN_LOG = 11
_EVENT_ZSTD_SEARCH_LOG = 4
_EVENT_MEM_LEVEL = 4


class _ZlibEncoder:
    """Shared body of gzip and deflate: the same DEFLATE stream, framed by ``wbits``."""

    encoding: ClassVar[str]
    _wbits: ClassVar[int]
    _zlib: ClassVar[ModuleType] = ZLIB

    __slots__ = ("_compressor", "_events", "_level")

    def __init__(self, level: int, *, events: bool = False) -> None:
        self._level = level
        self._events = events
        # Made on first use: a whole body is better served by one compress() call.
        self._compressor: Any = None

    def _stream(self) -> Any:
        c = self._compressor
        if c is None:
            if self._events:
                c = zlib.compressobj(self._level, zlib.DEFLATED, self._wbits, _EVENT_MEM_LEVEL)
            else:
                c = self._zlib.compressobj(self._level, zlib.DEFLATED, self._wbits)
            self._compressor = c
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
        self._compressor = None  # spent: its memory goes now, not with the encoder
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
# 0-0.5% of ratio on this project's payloads (docs/guides/streams.md, "Memory per open
# stream"). Event streams hold less still (EVENT_WINDOW_LOG). A whole body keeps the
# configured window: its encoder lives for one call.
STREAM_WINDOW_LOG = 19

ENCODERS: dict[str, Callable[..., Encoder]] = {
    "gzip": GZipEncoder,
    "deflate": DeflateEncoder,
}
"""The encoders by wire token."""


class BrotliEncoder:
    """``br`` (RFC 7932) through the ``brotli`` package."""

    encoding: ClassVar[str] = "br"
    __slots__ = ("_compressor", "_events", "_params")

    def __init__(
        self, quality: int, mode: int, lgwin: int, lgblock: int, *, events: bool = False
    ) -> None:
        self._params = {"mode": mode, "quality": quality, "lgwin": lgwin, "lgblock": lgblock}
        self._events = events
        self._compressor: brotli.Compressor | None = None  # made on first use

    def _stream(self) -> brotli.Compressor:
        c = self._compressor
        if c is None:
            params = self._params
            if self._events:
                lgwin = min(params["lgwin"], EVENT_WINDOW_LOG)
                quality = min(params["quality"], _EVENT_BR_QUALITY)
                params = {**params, "lgwin": lgwin, "quality": quality}
            else:
                params = {**params, "lgwin": min(params["lgwin"], STREAM_WINDOW_LOG)}
            c = self._compressor = brotli.Compressor(**params)
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
        self._compressor = None  # spent: its memory goes now, not with the encoder
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
# up to this size reuse one; a larger body makes its own, freed with it, at every level.
# At level 3 the fresh one is also the cheaper (measured on a 1 MiB JSON): with two bodies on
# two worker threads at once, a reused compressor took a median 1.11-1.14x the CPU of a
# fresh one (one thread alone: 1.02-1.04x), and four requests through CodecRunner 7.4-7.9 ms
# of CPU per body against 6.4-7.2. The fresh tables page-fault nothing once malloc has
# seen their size (0 minor faults per body, in process and under uvicorn).
_REUSE_MAX = 256 * 1024


def _reusable_compressor(level: int) -> ZstdCompressor:
    """This thread's compressor for whole bodies at ``level`` (see ``_REUSE_MAX``).

    Making a ZstdCompressor costs ~8 us, 5% of a 100 KB body; after FLUSH_FRAME one is
    ready for the next frame. One per thread, so never used by two threads at once.
    """
    compressors: dict[int, ZstdCompressor] = _reusable.__dict__.setdefault("by_level", {})
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = _new_compressor(level)
    return compressor


def _event_compressor(level: int) -> ZstdCompressor:
    """An event stream's compressor: a 64 KiB window and small tables (see EVENT_WINDOW_LOG).
    The strategy is pinned too: a level's own (up to btultra2's) would size tables of its
    own, and btlazy2 is the one measured to keep level 3's ratio on events at this size."""
    options: dict[int, int] = {
        CompressionParameter.compression_level: level,
        CompressionParameter.window_log: EVENT_WINDOW_LOG,
        CompressionParameter.hash_log: _EVENT_ZSTD_HASH_LOG,
        CompressionParameter.chain_log: _EVENT_ZSTD_CHAIN_LOG,
        CompressionParameter.search_log: _EVENT_ZSTD_SEARCH_LOG,
        CompressionParameter.strategy: Strategy.btlazy2,
    }
    return ZstdCompressor(options=options)


# A whole body is one FLUSH_FRAME call, so zstd knows its size and picks the level's row for
# that size. At level 3 (the default) the row for 128-256 KiB lowers the minimum match to 4,
# which costs 3-15% in size on JSON, NDJSON and CSV there and is slower too (benchmarks/
# results/mix.md: a 179 KB CSV export, 2.03x the br-11 ideal against 1.73x at 5); every other
# size's row, and a stream's, already uses 5. So level 3 keeps 5 at every size.
_MIN_MATCH = {3: 5}


def _new_compressor(level: int, *, window_log: int | None = None) -> ZstdCompressor:
    if window_log is None and level >= _FIRST_LEVEL_WITH_LARGER_WINDOW:
        window_log = _MAX_WINDOW_LOG
    min_match = _MIN_MATCH.get(level)
    if window_log is None and min_match is None:
        return ZstdCompressor(level=level)
    options: dict[int, int] = {CompressionParameter.compression_level: level}
    if window_log is not None:
        options[CompressionParameter.window_log] = window_log
    if min_match is not None:
        options[CompressionParameter.min_match] = min_match
    return ZstdCompressor(options=options)


class ZstdEncoder:
    """``zstd`` (RFC 8878, RFC 9659) with the window capped at 8 MB."""

    encoding: ClassVar[str] = "zstd"
    __slots__ = ("_compressor", "_events", "_level")

    def __init__(self, level: int, *, events: bool = False) -> None:
        self._level = level
        self._events = events
        self._compressor: ZstdCompressor | None = None  # made on first use

    def _stream(self) -> ZstdCompressor:
        c = self._compressor
        if c is None:
            if self._events:
                c = _event_compressor(self._level)
            else:
                c = _new_compressor(self._level, window_log=STREAM_WINDOW_LOG)
            self._compressor = c
        return c

    def compress(self, chunk: bytes) -> bytes:
        return self._stream().compress(chunk)

    def flush(self, chunk: bytes = b"") -> bytes:
        return self._stream().compress(chunk, ZstdCompressor.FLUSH_BLOCK)

    def finish(self, chunk: bytes = b"") -> bytes:
        c = self._compressor
        if c is not None:
            self._compressor = None  # spent: its memory goes now, not with the encoder
            return c.compress(chunk, ZstdCompressor.FLUSH_FRAME)
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
