"""Precompressed siblings written ahead of time: ``app.js.br``, ``.zst``, ``.gz``.

Every file under a directory that the middleware would compress (``_files.py``) gets a
sibling per coding at that coding's best level: br 11, zstd 19 (its window kept to 8 MB,
RFC 9659), gzip 9. A sibling that would not be smaller is not written; one that is already
fresh (not older than its file) is left alone. Each is written to a temporary file and
renamed into place, so a server never reads half of one. ``response/_precompressed.py``
serves them; ``python -m asgi_compress precompress`` is the command.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from ._files import SUFFIXES, StaticFile, compressible_files

__all__ = ["BEST_LEVELS", "PrecompressResult", "precompress"]

BEST_LEVELS = {"br": 11, "zstd": 19, "gzip": 9}


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

    Example:
        >>> result = precompress("static", ("br", "gzip"))  # doctest: +SKIP
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
    found = compressible_files(directory, settings, siblings=False)
    result = PrecompressResult(skipped_files=found.skipped)
    for source in found.files:
        _write_siblings(source, codings, settings, result)
    return result


def _write_siblings(
    source: StaticFile, codings: tuple[str, ...], settings: Settings, result: PrecompressResult
) -> None:
    data: bytes | None = None
    for coding in codings:
        sibling = Path(str(source.path) + SUFFIXES[coding])
        try:
            if sibling.stat().st_mtime_ns >= source.mtime_ns and sibling.is_file():
                result.fresh += 1
                continue
        except OSError:
            pass
        if data is None:
            data = source.path.read_bytes()
        encoded = settings.encoders[coding]().finish(data)
        if len(encoded) >= len(data):
            result.not_smaller += 1
            continue
        _write_atomically(sibling, encoded, not_before_ns=source.mtime_ns)
        result.written += 1


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
