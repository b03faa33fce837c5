"""Independent decoders and test payloads: what we encode is never checked with our own code.

``Decoder(encoding)`` decodes incrementally with the stdlib's zlib, the brotli package or the
zstd module; ``decode`` insists the stream is complete; ``gzip_bytes`` is zlib's own gzip
stream; ``text`` is deterministic, compressible payload.
"""

from __future__ import annotations

import sys
import zlib
from typing import Any

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ENCODINGS = ("zstd", "br", "gzip", "deflate")

ZSTD_MAX_WINDOW_LOG = 23  # RFC 9659: decoders may refuse windows above 8 MB


class Decoder:
    """Incremental decoder for one content coding, independent of asgi_compress."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._impl: Any
        if encoding == "gzip":
            self._impl = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._impl = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._impl = brotli.Decompressor()
        elif encoding == "zstd":
            self._impl = zstd.ZstdDecompressor(
                options={zstd.DecompressionParameter.window_log_max: ZSTD_MAX_WINDOW_LOG}
            )
        else:
            raise ValueError(encoding)

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "br":
            # brotli >= 1.2 hands output back in slices; drain what this input produced.
            out = bytearray(self._impl.process(data))
            while not self._impl.is_finished() and (more := self._impl.process(b"")):
                out += more
            return bytes(out)
        if self.encoding == "zstd":
            # A zstd body may hold several frames (a skippable padding frame first).
            out = bytearray()
            while data:
                if self._impl.eof:
                    self._impl = zstd.ZstdDecompressor(
                        options={zstd.DecompressionParameter.window_log_max: ZSTD_MAX_WINDOW_LOG}
                    )
                out += self._impl.decompress(data)
                data = self._impl.unused_data if self._impl.eof else b""
            return bytes(out)
        return bytes(self._impl.decompress(data))

    @property
    def eof(self) -> bool:
        if self.encoding == "br":
            return bool(self._impl.is_finished())
        return bool(self._impl.eof)


def decode(encoding: str, data: bytes) -> bytes:
    """Decode a whole body and insist that the stream is complete."""
    d = Decoder(encoding)
    out = d.feed(data)
    assert d.eof, f"{encoding} stream did not reach its end"
    return out


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """``data`` as zlib's gzip stream (a 10-byte header, mtime 0), as our encoder frames it.

    ``zlib.compress(data, level, wbits)`` takes ``wbits`` only from Python 3.11 on.
    """
    z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def text(size: int, seed: int = 0) -> bytes:
    """Deterministic, compressible, not trivially repetitive bytes of a given size."""
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    out = bytearray()
    i = seed
    while len(out) < size:
        out += words[(i * 7 + i // 3) % len(words)] + b" %d " % (i % 97)
        i += 1
    return bytes(out[:size])
