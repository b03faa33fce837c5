"""Request-body decoders with bounded output, chained for stacked codings, within limits.

Theory of operation
-------------------
One small class per content coding, each a thin layer over an independent library decoder
(stdlib ``zlib``, ``brotli.Decompressor``, the zstd module's ``ZstdDecompressor``) that
speaks three verbs:

- ``feed(data)``: hand over input; only called when ``needs_input`` is true;
- ``read(limit)``: one library call that returns at most about ``limit`` bytes (brotli may
  overshoot by one buffer block, ~32-64 KiB) and keeps the rest of its input for later;
- ``complete``: the stream reached a clean end (or never got a byte).

No call can turn a small input into gigabytes: zlib and zstd take ``max_length``, brotli
(>= 1.2) takes ``output_buffer_limit``. A :class:`DecodingPipeline` chains the decoders of a
stacked ``Content-Encoding`` (RFC 9110 section 8.4: listed in the order they were applied, so
undone from the last to the first). It hands the first decoder the wire at most
:data:`WIRE_SLICE` bytes at a time and asks every call for at most :data:`STEP_OUTPUT` bytes,
so a call's work is bounded; :meth:`DecodingPipeline.run` makes a bounded batch of calls.
After every call it counts what that stage has produced against the limits: at most
``max_size`` decoded bytes per stage, and at most ``max_ratio`` times the wire bytes handed
over so far once past :data:`RATIO_FLOOR`. The check runs before the output is handed on, so
the app never receives a byte past a limit.

Defined answers for the edge cases (RFC 1952 section 2.2, RFC 8878 section 3):

- gzip: a series of members decodes as one body, as ``gzip -d`` does; anything after a
  member that is not another member (trailing garbage, zero padding) is corrupt data.
- deflate: the zlib format only (RFC 9110 section 8.4.1.2). Raw DEFLATE, which some old
  clients sent, is refused as corrupt: its first bytes can pass for a zlib header, so
  guessing would mis-decode some bodies instead of refusing them.
- br: one stream; any byte after its end is corrupt data.
- zstd: a series of frames (skippable frames included) decodes as one body. A frame that
  needs a window above 8 MiB is refused as too large (RFC 9659 section 3 lets a decoder
  refuse it, and it would cost that much memory).
- an empty body, or an empty layer inside a stacked coding, decodes to an empty body: there
  is no content the coding could have been applied to.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Sequence

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = [
    "DECODERS",
    "RATIO_FLOOR",
    "STEP_OUTPUT",
    "WIRE_SLICE",
    "BodyCorrupt",
    "BodyRejected",
    "BodyTooLarge",
    "DecodingPipeline",
]

STEP_OUTPUT = 64 * 1024
"""The output one decoder call is asked for: the most a request holds per stage."""

WIRE_SLICE = 8 * 1024
"""The most wire bytes handed to the first decoder at once: the ratio's granularity."""

RATIO_FLOOR = 1024 * 1024
"""The expansion ratio is enforced once a stage has decoded more than this: the first bytes
of a stream (headers, a dictionary of repeats) can legitimately run far ahead of the input."""

_ZSTD_WINDOW_LOG_MAX = 23  # 8 MiB, RFC 9659 section 3


class BodyRejected(Exception):
    """The request body cannot be handed to the app; ``status`` is the HTTP answer."""

    status = 400


class BodyCorrupt(BodyRejected):
    """Corrupt or truncated coded data (answered 400)."""


class BodyTooLarge(BodyRejected):
    """The body decodes past a limit (answered 413, RFC 9110 section 15.5.14)."""

    status = 413


class _Decoder:
    """One coding's incremental decoder: ``feed`` a chunk, then ``read`` it out in bounded
    pieces until it ``needs_input``."""

    __slots__ = ("_pending", "fed")

    def __init__(self) -> None:
        self._pending = b""
        self.fed = False

    @property
    def needs_input(self) -> bool:
        raise NotImplementedError

    @property
    def complete(self) -> bool:
        """Nothing fed at all (an empty body), or the stream ended with no bytes after it."""
        return not self.fed or (self._finished() and not self._pending)

    def feed(self, data: bytes) -> None:
        self._pending = data
        self.fed = True

    def read(self, limit: int) -> bytes:
        raise NotImplementedError

    def _finished(self) -> bool:
        raise NotImplementedError


class _ZlibDecoder(_Decoder):
    """gzip (a series of members) or deflate (one zlib stream)."""

    __slots__ = ("_decompressor", "_members", "_more", "_name", "_wbits")

    def __init__(self, name: str, wbits: int, *, members: bool) -> None:
        super().__init__()
        self._name = name
        self._wbits = wbits
        self._members = members
        self._decompressor = zlib.decompressobj(wbits)
        self._more = False  # the last call filled its limit: more output may be buffered

    @property
    def needs_input(self) -> bool:
        return not self._pending and not self._more

    def _finished(self) -> bool:
        return bool(self._decompressor.eof)

    def read(self, limit: int) -> bytes:
        d = self._decompressor
        if d.eof:  # bytes after the end of a member or stream
            if not self._members:
                raise BodyCorrupt(f"data after the end of the {self._name} stream")
            d = self._decompressor = zlib.decompressobj(self._wbits)  # RFC 1952 section 2.2
        try:
            out = d.decompress(self._pending, limit)
        except zlib.error as error:
            raise BodyCorrupt(f"invalid {self._name} data ({error})") from None
        if d.eof:
            self._pending = d.unused_data
            self._more = False
        else:
            self._pending = d.unconsumed_tail
            self._more = len(out) >= limit
        return out


class _BrotliDecoder(_Decoder):
    """br (RFC 7932): one stream."""

    __slots__ = ("_decompressor", "_more")

    def __init__(self) -> None:
        super().__init__()
        self._decompressor = brotli.Decompressor()
        self._more = False  # the last call filled its limit: more output may be buffered

    @property
    def needs_input(self) -> bool:
        # brotli (>= 1.2) takes its input whole; while output is pending it may say it can
        # accept more data (brotli 1.2.1 does), so a full call means "call again" too.
        return (
            not self._pending and not self._more and bool(self._decompressor.can_accept_more_data())
        )

    def _finished(self) -> bool:
        return bool(self._decompressor.is_finished())

    def read(self, limit: int) -> bytes:
        d = self._decompressor
        data = b""
        if self._pending and d.can_accept_more_data():
            if d.is_finished():
                raise BodyCorrupt("data after the end of the br stream")
            data, self._pending = self._pending, b""
        try:
            out: bytes = d.process(data, output_buffer_limit=limit)
        except brotli.error:
            raise BodyCorrupt("invalid br data") from None
        self._more = len(out) >= limit and not d.is_finished()
        return out


def _new_zstd() -> zstd.ZstdDecompressor:
    return zstd.ZstdDecompressor(
        options={zstd.DecompressionParameter.window_log_max: _ZSTD_WINDOW_LOG_MAX}
    )


class _ZstdDecoder(_Decoder):
    """zstd (RFC 8878): a series of frames, windows up to 8 MiB."""

    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        super().__init__()
        self._decompressor = _new_zstd()

    @property
    def needs_input(self) -> bool:
        d = self._decompressor
        return not self._pending and (d.eof or d.needs_input)

    def _finished(self) -> bool:
        return bool(self._decompressor.eof)

    def read(self, limit: int) -> bytes:
        d = self._decompressor
        if d.eof:  # the next frame (RFC 8878 section 3)
            d = self._decompressor = _new_zstd()
        data, self._pending = self._pending, b""
        try:
            out = d.decompress(data, limit)
        except zstd.ZstdError as error:
            # libzstd's ZSTD_error_frameParameter_windowTooLarge: the frame header asks for
            # a window above window_log_max.
            if "too much memory" in str(error):
                raise BodyTooLarge("a zstd frame needs a window above 8 MiB") from None
            raise BodyCorrupt("invalid zstd data") from None
        if d.eof:
            self._pending = d.unused_data
        return out


DECODERS: dict[str, Callable[[], _Decoder]] = {
    "zstd": _ZstdDecoder,
    "br": _BrotliDecoder,
    "gzip": lambda: _ZlibDecoder("gzip", 16 + zlib.MAX_WBITS, members=True),
    "deflate": lambda: _ZlibDecoder("deflate", zlib.MAX_WBITS, members=False),
}
"""The request codings we decode, by wire token, in our preference order."""


class DecodingPipeline:
    """The decoders of one request body, with its limits.

    Args:
        codings: the ``Content-Encoding`` tokens in the order they were applied.
        max_size: the most bytes any stage may produce.
        max_ratio: the most bytes a stage may produce per wire byte (past
            :data:`RATIO_FLOOR`); 0 for no ratio limit.

    Not thread-safe: one call at a time (a call may run on a worker thread).
    """

    __slots__ = (
        "_max_ratio",
        "_max_size",
        "_stages",
        "_totals",
        "_wire",
        "_wire_at",
        "wire_bytes",
    )

    def __init__(self, codings: Sequence[str], *, max_size: int, max_ratio: int) -> None:
        self._stages = [DECODERS[token]() for token in reversed(codings)]
        self._totals = [0] * len(self._stages)
        self._max_size = max_size
        self._max_ratio = max_ratio
        self._wire = b""
        self._wire_at = 0
        self.wire_bytes = 0  # handed to the first decoder so far

    @property
    def needs_input(self) -> bool:
        """No stage can make progress without more bytes from the wire."""
        return self._wire_at >= len(self._wire) and all(s.needs_input for s in self._stages)

    def feed(self, data: bytes) -> None:
        """Hand over the next chunk from the wire (only when ``needs_input``)."""
        self._wire = data
        self._wire_at = 0

    def run(self, budget: int, max_steps: int) -> bytes:
        """Make decoder calls until ``budget`` bytes are ready for the app, the wire chunk is
        used up, or ``max_steps`` calls were made; return the bytes for the app.

        Raises:
            BodyCorrupt: the coded data is invalid.
            BodyTooLarge: a stage went past ``max_size`` or ``max_ratio``.
        """
        out = self._step()
        if len(out) >= budget or self.needs_input:
            return out
        parts = [out]
        size = len(out)
        for _ in range(max_steps - 1):
            if size >= budget or self.needs_input:
                break
            out = self._step()
            parts.append(out)
            size += len(out)
        return b"".join(parts)

    def check_complete(self) -> None:
        """At the end of the wire body: raise ``BodyCorrupt`` if any stream is truncated."""
        if not all(stage.complete for stage in self._stages):
            raise BodyCorrupt("truncated coded data")

    def _step(self) -> bytes:
        """One decoder call: the innermost stage with work goes first, so that every stage
        holds one chunk at most. Returns what the last stage produced, if it ran."""
        stages = self._stages
        last = len(stages) - 1
        for index in range(last, -1, -1):
            stage = stages[index]
            if stage.needs_input:
                if index or self._wire_at >= len(self._wire):
                    continue
                # The first decoder takes the wire a slice at a time, so the ratio is measured
                # against input it was actually given, not a whole chunk it has barely begun.
                at = self._wire_at
                piece = self._wire[at : at + WIRE_SLICE]
                self._wire_at = at + len(piece)
                self.wire_bytes += len(piece)
                stage.feed(piece)
            out = stage.read(STEP_OUTPUT)
            if out:
                self._count(index, len(out))
                if index < last:
                    stages[index + 1].feed(out)
                    return b""
            return out
        return b""

    def _count(self, index: int, size: int) -> None:
        total = self._totals[index] = self._totals[index] + size
        if total > self._max_size:
            raise BodyTooLarge(f"the body decodes to more than {self._max_size} bytes")
        ratio = self._max_ratio
        if ratio and total > RATIO_FLOOR and total > ratio * self.wire_bytes:
            raise BodyTooLarge(f"the body expands more than {ratio} times")
