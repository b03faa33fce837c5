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
import mimetypes
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..response._precompressed import SUFFIXES
from ..settings import Settings

__all__ = ["BEST_LEVELS", "PrecompressResult", "add_precompress_command", "precompress"]

BEST_LEVELS = {"br": 11, "zstd": 19, "gzip": 9}
_SIBLING_SUFFIXES = tuple(SUFFIXES.values())


@dataclass
class PrecompressResult:
    """What a run did: siblings written and already fresh, files skipped (type or size),
    and siblings not written because they were not smaller."""

    written: int = 0
    fresh: int = 0
    skipped_files: int = 0
    not_smaller: int = 0


def precompress(
    directory: str | os.PathLike[str], codings: tuple[str, ...] = tuple(BEST_LEVELS)
) -> PrecompressResult:
    """Write the precompressed siblings of every eligible file under ``directory``.

    Raises:
        ValueError: a coding without a sibling suffix (the message names ``--codings``).
    """
    unknown = [c for c in codings if c not in SUFFIXES]
    if unknown:
        raise ValueError(f"--codings: {unknown[0]!r} has no sibling; choose from br, zstd, gzip")
    settings = Settings(
        algorithm=codings,
        br_level=BEST_LEVELS["br"],
        zstd_level=BEST_LEVELS["zstd"],
        level=BEST_LEVELS["gzip"],
    )
    result = PrecompressResult()
    for path in sorted(Path(directory).rglob("*")):
        if path.name.endswith(_SIBLING_SUFFIXES) or not path.is_file():
            continue
        source = path.stat()
        media_type = (mimetypes.guess_type(path.name)[0] or "").lower()
        if not settings.is_compressible_type(media_type) or source.st_size < max(
            settings.min_size, 1
        ):
            result.skipped_files += 1
            continue
        data: bytes | None = None
        for coding in codings:
            sibling = Path(str(path) + SUFFIXES[coding])
            try:
                if sibling.stat().st_mtime_ns >= source.st_mtime_ns and sibling.is_file():
                    result.fresh += 1
                    continue
            except OSError:
                pass
            if data is None:
                data = path.read_bytes()
            encoded = settings.encoders[coding]().finish(data)
            if len(encoded) >= len(data):
                result.not_smaller += 1
                continue
            _write_atomically(sibling, encoded, not_before_ns=source.st_mtime_ns)
            result.written += 1
    return result


def _write_atomically(path: Path, data: bytes, *, not_before_ns: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        written = os.stat(temporary)
        if written.st_mtime_ns < not_before_ns:  # a source dated in the future
            os.utime(temporary, ns=(written.st_atime_ns, not_before_ns))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


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
    if not Path(args.directory).is_dir():
        raise SystemExit(f"precompress: {args.directory!r} is not a directory")
    codings = tuple(dict.fromkeys(c.strip().lower() for c in args.codings.split(",") if c.strip()))
    try:
        result = precompress(args.directory, codings)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"precompress: {error}") from error
    print(
        f"precompress: {result.written} siblings written, {result.fresh} already fresh, "
        f"{result.not_smaller} not smaller, {result.skipped_files} files skipped (type or size)"
    )
    return 0
