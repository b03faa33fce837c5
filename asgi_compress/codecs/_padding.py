"""Random-length padding at the start of an encoded body: a BREACH mitigation.

BREACH guesses a secret byte by byte from the compressed length of pages that reflect the
attacker's input next to the secret. Adding a random number of bytes to every response's
encoded length (as Django's Heal-The-Breach does for gzip) makes each guess cost many more
requests. The padding must be invisible after decoding, so each coding carries it in a
structure its decoders skip by definition, and to the byte (a coarser step would leave the
length modulo that step visible):

- gzip and deflate: after a sync flush the DEFLATE stream sits on a byte boundary between
  blocks, where we add empty blocks of our own (RFC 1951 section 3.2.3): an empty stored
  block is 5 bytes and each empty fixed-Huffman block before it adds 10 bits, so groups of
  5, 6, 7 and 9 bytes reach every length from 9 up.
- br: after a flush, a metadata meta-block (RFC 7932 section 9.2), which decoders skip.
- zstd: a skippable frame before the data frame (RFC 8878 section 3.1.2).
- dcz: the same skippable frame, after the 40-byte dcz header, which must open the body
  (RFC 9842 section 5). The rest is then two frames (zstd data is one or more frames, RFC
  8878 section 3.1); Chromium's decoder reads every frame, with the dictionary loaded for
  the whole stream. A decoder that stops after one frame would not see the content.

The padding goes first (for dcz, right after its header), before any data: the length
varies from the first byte and no decoder sees padding between two pieces of content.
"""

from __future__ import annotations

import struct

from ._dcz import DczEncoder
from .encoders import Encoder

__all__ = ["padding"]

# Empty DEFLATE blocks ending byte-aligned, by size: k empty fixed-Huffman blocks (10 bits
# each: BFINAL=0, BTYPE=01, end-of-block) and then an empty stored block (LEN=0, NLEN=~0).
_DEFLATE_GROUPS = {
    5: b"\x00\x00\x00\xff\xff",
    6: b"\x02\x00\x00\x00\xff\xff",
    7: b"\x02\x08\x00\x00\x00\xff\xff",
    9: b"\x02\x08\x20\x00\x00\x00\x00\xff\xff",
}
_DEFLATE_MIN = 9  # every length from 9 up is a sum of the group sizes
_ZSTD_SKIPPABLE_MAGIC = 0x184D2A50


def padding(encoder: Encoder, extra: int) -> bytes:
    """Bytes to send first for a fresh ``encoder``: its stream start plus padding.

    The result makes the encoded body ``extra`` bytes longer than it would otherwise be, plus
    a fixed amount per coding (gzip/deflate 14 bytes, br 1-2, zstd and dcz 8); only ``extra``
    varies.
    Must be called before the encoder has been given any data.
    """
    if encoder.encoding in ("gzip", "deflate"):
        return encoder.flush() + _deflate_blocks(_DEFLATE_MIN + extra)
    if encoder.encoding == "br":
        return encoder.flush() + _brotli_metadata(extra)
    if encoder.encoding == "zstd":
        return _zstd_skippable(extra)
    if isinstance(encoder, DczEncoder):
        return encoder.take_header() + _zstd_skippable(extra)
    raise ValueError(f"no padding form for {encoder.encoding!r}")  # pragma: no cover


def _zstd_skippable(size: int) -> bytes:
    """A zstd skippable frame carrying ``size`` zero bytes (8 bytes of frame header more)."""
    return struct.pack("<II", _ZSTD_SKIPPABLE_MAGIC, size) + bytes(size)


def _deflate_blocks(size: int) -> bytes:
    """Empty DEFLATE blocks of exactly ``size`` (>= 9) bytes."""
    fives, rest = divmod(size, 5)
    groups = {0: [], 1: [6], 2: [7], 3: [6, 7], 4: [9]}[rest]
    fives -= sum(groups) // 5
    return _DEFLATE_GROUPS[5] * fives + b"".join(_DEFLATE_GROUPS[g] for g in groups)


def _brotli_metadata(size: int) -> bytes:
    """Brotli metadata meta-blocks of exactly ``size`` bytes.

    One meta-block: ISLAST=0, MNIBBLES=0 (the 2-bit code 3), a reserved 0 bit, MSKIPBYTES,
    MSKIPLEN-1, zero bits up to the byte boundary, then MSKIPLEN bytes to skip.
    """
    out = bytearray()
    while size > 0:
        if size <= 2:  # MSKIPBYTES=0: a one-byte meta-block with nothing to skip
            out += b"\x06" * size
            break
        skip = min(size - 2, 256)
        header = 0b010110 | ((skip - 1) & 0b11) << 6  # MSKIPBYTES=1, low bits of MSKIPLEN-1
        out += bytes((header, (skip - 1) >> 2)) + bytes(skip)
        size -= skip + 2
    return bytes(out)
