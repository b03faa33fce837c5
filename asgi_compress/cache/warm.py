"""``python -m asgi_compress warm DIR --cache URL_OR_DIR``: compress static files ahead of time.

Every file under DIR that the middleware would compress (its media type, as ``StaticFiles``
guesses it with :func:`mimetypes.guess_type`, is in ``mimetypes``; its size is between
``min_size`` and ``cache_max_size``) is compressed at the cache level of each coding and
stored. Entries are content-addressed, so they are exactly the ones a server with the same
``cache_levels`` and default encoder settings looks up when ``StaticFiles`` sends that file;
a file that changed since is simply a miss.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread

from ..settings import Settings
from ..static._files import compressible_files
from . import CacheBackend
from .response import (
    DEFAULT_CACHE_LEVELS,
    DEFAULT_CACHE_MAX_SIZE,
    ResponseCache,
    validate_levels,
)

__all__ = ["DEFAULT_LEVELS", "WarmResult", "warm"]

# The middleware's cache_levels: what a server with the defaults looks up.
DEFAULT_LEVELS = ",".join(f"{coding}={level}" for coding, level in DEFAULT_CACHE_LEVELS.items())


@dataclass
class WarmResult:
    """What a warm-up did, counted in entries (one per file and coding)."""

    stored: int = 0
    present: int = 0
    skipped_files: int = 0


async def warm(
    directory: str | os.PathLike[str],
    backend: CacheBackend,
    levels: Mapping[str, int],
    *,
    max_size: int = DEFAULT_CACHE_MAX_SIZE,
    settings: Settings | None = None,
) -> WarmResult:
    """Store every eligible file under ``directory`` at ``levels`` into ``backend``.

    Args:
        directory: the static files' root (as given to ``StaticFiles(directory=...)``).
        backend: where to store them.
        levels: coding -> level, as the server's ``cache_levels``.
        max_size: files larger than this are skipped (the server's ``cache_max_size``).
        settings: the server's settings (default: the defaults), for media types,
            ``min_size`` and the encoder parameters that are part of each address.

    Raises:
        ValueError: a bad level (the message names ``cache_levels``).

    Example:
        >>> backend = DirectoryCache("/var/cache/app")
        >>> anyio.run(warm, "static", backend, {"br": 11})  # doctest: +SKIP
    """
    levels = validate_levels(levels)
    settings = settings or Settings.from_options(algorithm=list(levels))
    cache = ResponseCache(backend, levels=levels, improve_slots=1, max_size=max_size)
    walked = await anyio.to_thread.run_sync(
        partial(compressible_files, directory, settings, max_size=max_size)
    )
    result = WarmResult(skipped_files=walked.skipped)
    for file in walked.files:
        data = await anyio.Path(file.path).read_bytes()
        for coding in cache.levels:
            found = await cache.lookup(coding, data, settings.encoders[coding])
            if found.hit:
                result.present += 1
            elif await cache.store(found, None):
                result.stored += 1
    return result
