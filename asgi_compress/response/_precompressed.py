"""Precompressed siblings: ``app.js.br`` next to ``app.js``, as nginx's ``gzip_static``,
Caddy's ``precompressed`` and ServeStatic serve them.

A sibling is used only when it is a regular file and not older than the file it stands for
(its mtime is at least the file's): a sibling left behind by an edit of the file is stale and
the file is encoded as usual. The lookup blocks (``stat``, ``open``), so the responder runs it
on a worker thread. Writing siblings is ``python -m asgi_compress precompress``
(:mod:`asgi_compress.static.precompress`), which names them as here (``SUFFIXES``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import BinaryIO, NamedTuple

from ..dictionaries.transport import DCZ
from ..static._files import SUFFIXES

__all__ = ["SUFFIXES", "Sibling", "open_sibling", "sibling_codings"]


class Sibling(NamedTuple):
    """An open precompressed sibling: its coding, path, size, and the file to read."""

    coding: str
    path: str
    size: int
    file: BinaryIO


def sibling_codings(encoding: str | None, stream_encoding: str | None) -> tuple[str, ...]:
    """The codings whose siblings may answer a request, in order: the negotiated whole-body
    coding, then the stream coding when it differs. Both are codings the client accepted;
    dcz is never precompressed (its bytes depend on the client's dictionary)."""
    return tuple(
        dict.fromkeys(c for c in (encoding, stream_encoding) if c is not None and c != DCZ)
    )


def open_sibling(path: str, codings: Iterable[str]) -> Sibling | None:
    """Open the first fresh sibling of ``path`` among ``codings``; ``None`` when there is none.

    Its size comes from the open file, so the length announced is the length read even if
    the sibling is replaced meanwhile.
    """
    try:
        source = os.stat(path).st_mtime_ns
    except OSError:
        return None
    for coding in codings:
        suffix = SUFFIXES.get(coding)
        if suffix is None:
            continue
        candidate = path + suffix
        try:
            # stat first: opening a FIFO would wait for a writer.
            if not stat.S_ISREG(os.stat(candidate).st_mode):
                continue
            file = open(candidate, "rb")  # noqa: SIM115  # closed by the responder
        except OSError:
            continue
        found = os.fstat(file.fileno())
        if stat.S_ISREG(found.st_mode) and found.st_mtime_ns >= source:
            return Sibling(coding, candidate, found.st_size, file)
        file.close()
    return None
