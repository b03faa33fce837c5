"""``python -m asgi_compress train-dictionary``: train a dictionary from sample responses.

zstd's trainer (``train_dict``, the COVER algorithm) picks the byte strings that recur across
the samples. The result is served as a raw dictionary (RFC 9842 ``type=raw``): the browser
and our dcz encoder use its bytes as a prefix, so its zstd header and entropy tables are just
bytes there; what pays is the recurring content.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

if sys.version_info >= (3, 14):
    from compression.zstd import ZstdError, train_dict
else:
    from backports.zstd import ZstdError, train_dict

__all__ = ["add_train_command", "read_samples", "train_dictionary"]

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


def _run(args: argparse.Namespace) -> int:
    try:
        samples = read_samples(Path(args.samples_dir))
        data = train_dictionary(samples, args.size)
    except (OSError, ValueError) as error:
        print(f"train-dictionary: {error}", file=sys.stderr)
        return 2
    Path(args.output).write_bytes(data)
    print(f"wrote {len(data)} bytes to {args.output} from {len(samples)} samples")
    return 0


def add_train_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train-dictionary SAMPLES_DIR -o FILE [--size N]``."""
    parser = subparsers.add_parser(
        "train-dictionary",
        help="train a compression dictionary (RFC 9842, dcz) from sample responses",
        description="Train a zstd dictionary from every file under SAMPLES_DIR.",
    )
    parser.add_argument("samples_dir", metavar="SAMPLES_DIR")
    parser.add_argument("-o", "--output", required=True, help="the dictionary file to write")
    parser.add_argument(
        "--size", type=int, default=64 * 1024, help="largest dictionary size (default 64 KiB)"
    )
    parser.set_defaults(run=_run)
