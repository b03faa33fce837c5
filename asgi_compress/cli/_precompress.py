"""``python -m asgi_compress precompress DIR [--codings br,zstd,gzip]``: write siblings.

Every file under DIR that the middleware would compress (its media type, as ``StaticFiles``
guesses it with :func:`mimetypes.guess_type`, is in the default ``mimetypes``; it has at
least ``min_size`` bytes) gets a precompressed sibling per coding (``app.js.br``,
``app.js.zst``, ``app.js.gz``) at that coding's best level: br 11, zstd 19 (its window kept to
8 MB, RFC 9659), gzip 9. A sibling that would not be smaller is not written; one that is
already fresh (not older than its file) is left alone. Each is written to a temporary file
and renamed into place, so a server never reads half of one.
"""

from __future__ import annotations

import argparse
from functools import partial

from ..static.precompress import precompress
from ._command import or_exit, require_directory

__all__ = ["add_precompress_command"]


def add_precompress_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register ``precompress`` on the ``python -m asgi_compress`` dispatcher."""
    parser = subparsers.add_parser(
        "precompress",
        help="write precompressed siblings (app.js.br, .zst, .gz) of a directory's files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", help="the static files' root")
    parser.add_argument(
        "--codings", default="br,zstd,gzip", help="codings to write (default br,zstd,gzip)"
    )
    parser.set_defaults(run=run_precompress)


def run_precompress(args: argparse.Namespace) -> int:
    """The ``precompress`` command: returns the exit status."""
    require_directory("precompress", args.directory)
    codings = tuple(dict.fromkeys(c.strip().lower() for c in args.codings.split(",") if c.strip()))
    result = or_exit("precompress", partial(precompress, args.directory, codings))
    print(
        f"precompress: {result.written} siblings written, {result.fresh} already fresh, "
        f"{result.not_smaller} not smaller, {result.skipped_files} files skipped (type or size)"
    )
    return 0
