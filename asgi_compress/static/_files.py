"""Which files of a static directory the middleware would compress, and their siblings' names.

A file is compressible when its media type, as ``StaticFiles`` guesses it with
:func:`mimetypes.guess_type`, is one the settings compress, and it has at least ``min_size``
bytes (and at most a bound, for the cache). One walk serves the sibling writer and the cache
warm-up, so both pick the same files.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings

__all__ = ["SUFFIXES", "StaticFile", "StaticFiles", "compressible_files"]

SUFFIXES: dict[str, str] = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
"""Coding -> the file-name suffix of its sibling (the suffixes of the brotli, zstd and gzip
command-line tools, which nginx, Caddy and ServeStatic look for too). deflate has none."""
_SIBLING_SUFFIXES = tuple(SUFFIXES.values())


@dataclass(frozen=True)
class StaticFile:
    """A compressible file: its path, and its size and mtime when the walk saw it."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StaticFiles:
    """What a walk found: the compressible files, sorted by path, and how many it skipped
    (type or size)."""

    files: list[StaticFile]
    skipped: int


def compressible_files(
    root: str | os.PathLike[str],
    settings: Settings,
    *,
    max_size: int | None = None,
    siblings: bool = True,
) -> StaticFiles:
    """Every regular file under ``root`` that ``settings`` would compress.

    Args:
        root: the static files' root (as given to ``StaticFiles(directory=...)``).
        settings: for the compressible media types and ``min_size``.
        max_size: larger files are skipped (a cache's ``cache_max_size``); ``None``: no bound.
        siblings: ``False`` leaves precompressed siblings (``app.js.br``) out altogether,
            neither listed nor counted as skipped.
    """
    files: list[StaticFile] = []
    skipped = 0
    for path in sorted(Path(root).rglob("*")):
        if (not siblings and path.name.endswith(_SIBLING_SUFFIXES)) or not path.is_file():
            continue
        found = path.stat()
        media_type = (mimetypes.guess_type(path.name)[0] or "").lower()
        if (
            not settings.is_compressible_type(media_type)
            or found.st_size < max(settings.min_size, 1)
            or (max_size is not None and found.st_size > max_size)
        ):
            skipped += 1
            continue
        files.append(StaticFile(path, found.st_size, found.st_mtime_ns))
    return StaticFiles(files, skipped)
