"""DictCache: a per-process LRU, bounded by what it really holds, safe under threads."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

__all__ = ["DEFAULT_CACHE_BYTES", "ENTRY_OVERHEAD", "DictCache"]

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
"""The bound of a ``DictCache()``, the middleware's default cache: per worker process. At
its bound it holds 32 MiB (tracemalloc agrees with the count): 1,804 entries of a 100 KB JSON
body's br-11 (18 KB), or 292 of a 1 MiB JSON export's (114 KB); benchmarks/results/hot_cache.md."""

ENTRY_OVERHEAD = 2 * sys.getsizeof(b"") + sys.getsizeof("") + 104
"""Bytes charged to each entry on top of its key's and value's lengths: the two objects'
headers and the ordered dict's node and slot (CPython 3.12, 64-bit: about 104 bytes)."""


class DictCache:
    """An in-memory LRU cache, bounded in bytes: keys, values and per-entry overhead count.

    Choose it for one process (the default of a single worker), or behind a per-worker
    cache of a few megabytes. Entries die with the process; workers do not share them.
    Every method takes one lock, so threads (sync views, ``run_in_threadpool``) may share it.

    Args:
        max_bytes: the most the entries may take, counting keys, values and
            :data:`ENTRY_OVERHEAD` each; the least recently used go first.

    Raises:
        ValueError: ``max_bytes`` not an int >= 0.

    Example:
        >>> cache = DictCache(max_bytes=1024)
        >>> cache.set("br;/", b"...")
        >>> cache.get("br;/")
        b'...'
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._size = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, bytes] = OrderedDict()

    @staticmethod
    def cost(key: str, value: bytes) -> int:
        """What an entry counts against ``max_bytes``."""
        return len(key) + len(value) + ENTRY_OVERHEAD

    @property
    def size(self) -> int:
        """The bytes the entries count for now (never above ``max_bytes``)."""
        return self._size

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, evicting the least recently used to make room.

        An entry that could never fit is not stored (and removes an older value of ``key``).
        """
        cost = self.cost(key, value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= self.cost(key, old)
            if cost > self.max_bytes:
                return
            self._entries[key] = value
            self._size += cost
            while self._size > self.max_bytes:
                old_key, evicted = self._entries.popitem(last=False)
                self._size -= self.cost(old_key, evicted)

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens if it is absent)."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= self.cost(key, old)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
