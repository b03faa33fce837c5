"""``python -m asgi_compress train-dictionary SAMPLES_DIR -o FILE``: the command over
:func:`asgi_compress.dictionaries._train.train_dictionary`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..dictionaries._train import read_samples, train_dictionary

__all__ = ["add_train_command"]


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
