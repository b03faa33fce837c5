"""Caches for compressed bodies: the protocol, a bounded in-memory default, and the calls the
middleware makes (which accept sync and async backends and never let a backend fail a
response).

As in Flask-Compress, only buffered (one-shot) bodies are cached, under
``f"{coding};{cache_key(request)}"``, so a br body is never served to a gzip client.
"""

from __future__ import annotations

import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

__all__ = ["CacheBackend", "DictCache"]

logger = logging.getLogger("asgi_compress")


@runtime_checkable
class CacheBackend(Protocol):
    """Anything with ``get``/``set``: Flask-Caching-style sync methods, or aiocache-style
    coroutines. ``get`` returns ``None`` on a miss."""

    def get(self, key: str) -> bytes | None | Awaitable[bytes | None]: ...

    def set(self, key: str, value: bytes) -> object: ...


class DictCache:
    """An in-memory LRU cache bounded by the bytes it holds (Flask-Compress's is unbounded).

    Args:
        max_bytes: total size of the stored values; the least recently used go first.

    Example:
        >>> cache = DictCache(max_bytes=1024)
        >>> cache.set("br;/", b"...")
        >>> cache.get("br;/")
        b'...'
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def set(self, key: str, value: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old)
        if len(value) > self.max_bytes:
            return
        self._entries[key] = value
        self.size += len(value)
        while self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted)

    def __len__(self) -> int:
        return len(self._entries)


async def cache_get(cache: CacheBackend, key: str) -> bytes | None:
    """``cache.get(key)``; a failing backend is a miss, logged, never a 500."""
    try:
        value = cache.get(key)
        if inspect.isawaitable(value):
            value = await value
    except Exception:
        logger.warning("compression cache get(%r) failed; compressing instead", key, exc_info=True)
        return None
    return value if isinstance(value, bytes) else None


async def cache_set(cache: CacheBackend, key: str, value: bytes) -> None:
    """``cache.set(key, value)``; a failure is logged and otherwise ignored."""
    try:
        result = cache.set(key, value)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.warning("compression cache set(%r) failed", key, exc_info=True)
