"""Caches of compressed bodies: compress once, serve the bytes to every worker and host.

- :class:`ResponseCache` (``response.py``): what the middleware calls. Entries are addressed
  by coding, encoder parameters and a SHA-256 of the uncompressed body (or an app-chosen slot
  whose entry that digest validates), and framed with an HMAC, so that only bytes made from
  the very body the app produced are ever served (``_entry.py``).
- The middleware's default: a :class:`DictCache` of :data:`DEFAULT_CACHE_BYTES` per worker,
  its entries made at :data:`DEFAULT_CACHE_LEVELS` once a body is seen twice (``_sightings.py``).
- Backends, one module each, all with ``get(key)`` / ``set(key, value)``:
  :class:`DictCache` (per process, ``memory.py``), :class:`DirectoryCache` (files shared by
  the processes of one host, ``directory.py``), :class:`RedisCache` (a fleet, ``redis.py``).
- ``warm.py``: ``python -m asgi_compress warm DIR --cache ...`` fills a backend ahead of time.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .directory import DirectoryCache
from .memory import DEFAULT_CACHE_BYTES, DictCache
from .response import (
    DEFAULT_CACHE_LEVELS,
    DEFAULT_CACHE_MAX_SIZE,
    CacheLookup,
    ResponseCache,
    cacheable,
)

if TYPE_CHECKING:
    from .redis import RedisCache

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_CACHE_LEVELS",
    "DEFAULT_CACHE_MAX_SIZE",
    "CacheBackend",
    "CacheLookup",
    "DictCache",
    "DirectoryCache",
    "RedisCache",
    "ResponseCache",
    "cacheable",
]


@runtime_checkable
class CacheBackend(Protocol):
    """Anything with ``get``/``set``: Flask-Caching-style sync methods, or aiocache-style
    coroutines. ``get`` returns ``None`` on a miss. Values are opaque bytes."""

    def get(self, key: str) -> bytes | None | Awaitable[bytes | None]: ...

    def set(self, key: str, value: bytes) -> object: ...


def __getattr__(name: str) -> Any:
    # RedisCache is imported on first use: redis-py is an optional extra.
    if name == "RedisCache":
        from .redis import RedisCache

        return RedisCache
    raise AttributeError(f"module 'asgi_compress.cache' has no attribute {name!r}")


# -- transitional: the responder on main still calls these two with ``policy.cache``. Now that
# ``policy.cache`` is a ResponseCache, they make every lookup a miss and store nothing, until
# the responder calls ResponseCache.lookup/store instead; then delete them.
