"""The ``dcz`` content coding: Dictionary-Compressed Zstandard (RFC 9842 section 5).

A dcz body is a fixed 40-byte header, then one zstd frame compressed with the dictionary as
raw content:

    5E 2A 4D 18   zstd skippable frame magic 0x184D2A5E, little-endian (RFC 8878 section 3.1.2)
    20 00 00 00   the skippable frame's size: 32
    32 bytes      SHA-256 of the dictionary
    ...           a zstd frame whose history starts with the dictionary's bytes

"Raw content" matters: a dictionary trained by zstd starts with zstd's dictionary magic, and
zstd loading it in "auto" mode would parse its entropy tables and write its dictionary ID in
the frame. The browser loads the dictionary bytes as a plain prefix (Use-As-Dictionary
``type=raw``, RFC 9842 section 2.1.4), so we compress against them as a prefix too.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from typing import ClassVar

if sys.version_info >= (3, 14):
    from compression.zstd import CompressionParameter, ZstdCompressor, ZstdDict
else:
    from backports.zstd import CompressionParameter, ZstdCompressor, ZstdDict

__all__ = ["DCZ_MAGIC", "DczEncoder", "dcz_header", "dcz_window_log"]

DCZ_MAGIC = b"\x5e\x2a\x4d\x18\x20\x00\x00\x00"
"""The first 8 bytes of every dcz body: a skippable frame header announcing 32 bytes."""

# RFC 9842 section 5: a dcz client must accept a window of at least 8 MB or 1.25 times the
# dictionary, whichever is greater, up to 128 MB; the window used must stay within that.
_MIN_LIMIT = 8 * 1024 * 1024
_MAX_LIMIT = 128 * 1024 * 1024


def dcz_window_log(dictionary_size: int) -> int:
    """The largest zstd window (as a log2) RFC 9842 section 5 lets a dcz body use.

    zstd windows are powers of two, so this is the largest power of two within
    ``min(128 MB, max(8 MB, 1.25 * dictionary_size))``. A window as large as allowed keeps
    the dictionary reachable for as long as possible: zstd drops the dictionary from
    reach once the output passes the window.

    Example:
        >>> dcz_window_log(100_000), dcz_window_log(20 * 1024 * 1024)
        (23, 24)
    """
    limit = min(_MAX_LIMIT, max(_MIN_LIMIT, dictionary_size * 5 // 4))
    return int(math.floor(math.log2(limit)))


def dcz_header(sha256: bytes) -> bytes:
    """The 40-byte dcz header for a dictionary with this SHA-256."""
    if len(sha256) != 32:
        raise ValueError(f"a SHA-256 is 32 bytes, got {len(sha256)}")
    return DCZ_MAGIC + sha256


# Making a ZstdDict copies the dictionary; a busy dictionary is used by every response, so
# one object per hash is kept, bounded: the dictionaries themselves are bounded by the store.
_ZSTD_DICTS: OrderedDict[bytes, ZstdDict] = OrderedDict()
_ZSTD_DICTS_MAX = 32
_ZSTD_DICTS_LOCK = threading.Lock()  # encoders are made on worker threads too


def _zstd_dict(sha256: bytes, data: bytes) -> ZstdDict:
    with _ZSTD_DICTS_LOCK:
        zstd_dict = _ZSTD_DICTS.get(sha256)
        if zstd_dict is not None:
            _ZSTD_DICTS.move_to_end(sha256)
            return zstd_dict
        zstd_dict = _ZSTD_DICTS[sha256] = ZstdDict(data, is_raw=True)
        if len(_ZSTD_DICTS) > _ZSTD_DICTS_MAX:
            _ZSTD_DICTS.popitem(last=False)
        return zstd_dict


class DczEncoder:
    """``dcz`` (RFC 9842 section 5): the dcz header, then zstd against a raw dictionary.

    Speaks the three verbs of :class:`~asgi_compress.codecs.encoders.Encoder`; the header goes out
    with the first bytes returned, whichever verb returns them.

    Args:
        data: the dictionary's bytes, exactly as the client stored them.
        sha256: their SHA-256 (the caller has it already: it is the store's key).
        level: the zstd compression level.

    Example:
        >>> import hashlib
        >>> d = b"const greeting = 'hello';" * 40
        >>> body = DczEncoder(d, hashlib.sha256(d).digest(), 3).finish(d)
        >>> body[:8].hex(), len(body) < len(d)
        ('5e2a4d1820000000', True)
    """

    encoding: ClassVar[str] = "dcz"
    __slots__ = ("_compressor", "_header")

    def __init__(self, data: bytes, sha256: bytes, level: int) -> None:
        self._header = dcz_header(sha256)
        options: dict[int, int] = {
            CompressionParameter.compression_level: level,
            CompressionParameter.window_log: dcz_window_log(len(data)),
        }
        # as_prefix: the dictionary is raw content, never parsed as a zstd dictionary.
        self._compressor = ZstdCompressor(
            options=options, zstd_dict=_zstd_dict(sha256, data).as_prefix
        )

    def take_header(self) -> bytes:
        """The 40-byte header, taken out of the output: the caller sends it first, and may
        put a skippable frame of its own after it (BREACH padding, see ``_padding.py``).
        Must be called before the encoder returned any bytes; later calls return ``b""``."""
        header, self._header = self._header, b""
        return header

    def _with_header(self, out: bytes) -> bytes:
        header = self._header
        if header:
            self._header = b""
            return header + out
        return out

    def compress(self, chunk: bytes) -> bytes:
        out = self._compressor.compress(chunk)
        return self._with_header(out) if out else out

    def flush(self, chunk: bytes = b"") -> bytes:
        return self._with_header(self._compressor.compress(chunk, ZstdCompressor.FLUSH_BLOCK))

    def finish(self, chunk: bytes = b"") -> bytes:
        # One FLUSH_FRAME call on a whole body lets zstd record the content size and size
        # the window to the input (a single-segment frame), as zstd.compress() does.
        return self._with_header(self._compressor.compress(chunk, ZstdCompressor.FLUSH_FRAME))
