"""Sightings: which bodies were seen before, to admit only repeated ones to recompression.

Recompressing at a cache level (br-11, zstd-19) costs 10 to 200 times the normal level's
CPU. Spent on a body that never comes back (a page with a timestamp, a user's search
results), it buys nothing. So the cache keeps a small record of the entries it missed, and
recompresses one only when it is missed again (the "doorkeeper" of TinyLFU-style admission).

The record is an LRU of 64-bit hashes, bounded in count: a body that comes back within the
last :data:`DEFAULT_SIGHTINGS` other misses is admitted. A hash collision (2^-64, with the
per-process keyed hash of ``str``) admits a body one sighting early, which only costs CPU:
what is served is still decided by the entry's digest.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["DEFAULT_SIGHTINGS", "Sightings"]

DEFAULT_SIGHTINGS = 8192
"""Misses remembered per cache: about 0.9 MiB at the bound (results/hot_cache.md)."""


class Sightings:
    """A bounded count of the times each entry was missed (not thread-safe: the caller's
    lock guards it).

    Args:
        limit: how many entries are remembered; the least recently missed are forgotten.
    """

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int = DEFAULT_SIGHTINGS) -> None:
        self.limit = limit
        self._counts: OrderedDict[int, int] = OrderedDict()

    def note(self, token: int) -> int:
        """Count one more sighting of ``token``; returns how many there have been."""
        counts = self._counts
        count = counts.pop(token, 0) + 1
        counts[token] = count
        if len(counts) > self.limit:
            counts.popitem(last=False)
        return count

    def forget(self, token: int) -> None:
        """``token`` has an entry now (or will never get one): stop counting it."""
        self._counts.pop(token, None)

    def __len__(self) -> int:
        return len(self._counts)
