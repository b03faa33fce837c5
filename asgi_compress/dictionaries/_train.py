"""``python -m asgi_compress train-dictionary``: train a dictionary from sample responses.

zstd's trainer (``train_dict``, the COVER algorithm) picks the byte strings that recur across
the samples. The result is served as a raw dictionary (RFC 9842 ``type=raw``): the browser
and our dcz encoder use its bytes as a prefix, so its zstd header and entropy tables are just
bytes there; what pays is the recurring content.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

if sys.version_info >= (3, 14):
    from compression.zstd import ZstdError, train_dict
else:
    from backports.zstd import ZstdError, train_dict

__all__ = ["read_samples", "train_dictionary"]

_MIN_SAMPLES = 8  # below this zstd's trainer fails or learns nothing useful


def train_dictionary(samples: Iterable[bytes], size: int) -> bytes:
    """A dictionary of at most ``size`` bytes trained on ``samples``.

    Raises:
        ValueError: fewer than 8 non-empty samples, ``size`` below 256, or zstd's trainer
            failed (it says why: usually too little sample data for the size asked).

    Example:
        >>> data = train_dictionary(json_bodies, 16 * 1024)  # doctest: +SKIP
    """
    kept = [bytes(s) for s in samples if s]
    if len(kept) < _MIN_SAMPLES:
        raise ValueError(f"need at least {_MIN_SAMPLES} non-empty samples, got {len(kept)}")
    if size < 256:
        raise ValueError(f"--size must be at least 256 bytes, got {size}")
    try:
        return train_dict(kept, size).dict_content
    except ZstdError as error:
        raise ValueError(f"zstd could not train a dictionary: {error}") from None


def read_samples(directory: Path) -> list[bytes]:
    """Every regular file under ``directory`` (recursively), in a stable order."""
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    return [p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()]
