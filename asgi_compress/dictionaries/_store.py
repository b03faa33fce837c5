"""Where dictionaries live: a bounded in-memory LRU, optionally backed by a shared cache.

Keyed by the SHA-256 of the dictionary's bytes, the key a client names in
``Available-Dictionary`` (RFC 9842 section 2.2). With a cache backend (the ``get``/``set``
protocol of :mod:`asgi_compress.cache`, sync or async), every dictionary added is also written
there under ``f"{key_prefix}{sha256 hex}"``, so a dictionary one worker served can compress
responses on every worker and host; memory stays a bounded front for it.

A value read back from the backend is trusted only after its SHA-256 is checked against the
key: RFC 9842 section 9.1 requires the hash to be validated before use, and a shared cache
is a place where bytes can be wrong (corrupt, or written by something else).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass

from ..cache import CacheBackend
from ..cache.response import backend_get, backend_set

__all__ = ["Dictionary", "DictionaryStore"]


@dataclass(frozen=True, slots=True)
class Dictionary:
    """A dictionary the server holds: its bytes, their SHA-256, and how it was announced.

    ``match`` is the Use-As-Dictionary ``match`` it was announced with (``None`` when not
    known: then any path may use it), ``id`` its ``id`` (``""`` when none was set).
    """

    data: bytes
    sha256: bytes
    match: str | None = None
    id: str = ""

    @classmethod
    def from_bytes(cls, data: bytes, *, match: str | None = None, id: str = "") -> Dictionary:
        """A dictionary over ``data``, its hash computed here."""
        return cls(bytes(data), hashlib.sha256(data).digest(), match, id)


class DictionaryStore:
    """A bounded store of dictionaries by SHA-256, with an async interface.

    Args:
        max_count: most dictionaries held in memory; the least recently used go first.
        max_bytes: most dictionary bytes held in memory; a larger dictionary is not kept.
        backend: an optional shared cache (``get``/``set``, sync or async); a failing
            backend is a miss, logged, never an error (as for the response cache).
        key_prefix: prepended to the hex SHA-256 to make the backend's key.

    Raises:
        ValueError: a bound that is not an int >= 0.

    Example:
        >>> store = DictionaryStore(max_count=8, max_bytes=1 << 20)
        >>> d = await store.add(b"dictionary bytes", match="/api/*")  # doctest: +SKIP
        >>> (await store.get(d.sha256)) == d  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        *,
        max_count: int = 64,
        max_bytes: int = 64 * 1024 * 1024,
        backend: CacheBackend | None = None,
        key_prefix: str = "dict:",
    ) -> None:
        for name, value in (("max_count", max_count), ("max_bytes", max_bytes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if backend is not None and not isinstance(backend, CacheBackend):
            raise TypeError(f"backend must have get() and set() methods, got {backend!r}")
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.backend = backend
        self.key_prefix = key_prefix
        self.size = 0
        self._entries: OrderedDict[bytes, Dictionary] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, sha256: bytes) -> Dictionary | None:
        """The dictionary whose bytes hash to ``sha256``, or ``None``."""
        found = self._entries.get(sha256)
        if found is not None:
            self._entries.move_to_end(sha256)
            return found
        if self.backend is None:
            return None
        value = await backend_get(self.backend, self._key(sha256))
        found = _decode(value, sha256) if value is not None else None
        if found is not None:
            self._remember(found)
        return found

    async def add(self, data: bytes, *, match: str | None = None, id: str = "") -> Dictionary:
        """Keep ``data`` as a dictionary (in memory, and in the backend if there is one)."""
        dictionary = Dictionary.from_bytes(data, match=match, id=id)
        known = self._entries.get(dictionary.sha256)
        if known == dictionary:
            self._entries.move_to_end(dictionary.sha256)
            return known
        self._remember(dictionary)
        if self.backend is not None:
            await backend_set(self.backend, self._key(dictionary.sha256), _encode(dictionary))
        return dictionary

    def _key(self, sha256: bytes) -> str:
        return self.key_prefix + sha256.hex()

    def _remember(self, dictionary: Dictionary) -> None:
        old = self._entries.pop(dictionary.sha256, None)
        if old is not None:
            self.size -= len(old.data)
        if len(dictionary.data) > self.max_bytes or self.max_count == 0:
            return
        self._entries[dictionary.sha256] = dictionary
        self.size += len(dictionary.data)
        while self.size > self.max_bytes or len(self._entries) > self.max_count:
            _, evicted = self._entries.popitem(last=False)
            self.size -= len(evicted.data)


# Backend values: one JSON line of metadata, a newline, then the dictionary's bytes.
def _encode(dictionary: Dictionary) -> bytes:
    meta = json.dumps({"match": dictionary.match, "id": dictionary.id}, separators=(",", ":"))
    return meta.encode() + b"\n" + dictionary.data


def _decode(value: bytes, sha256: bytes) -> Dictionary | None:
    meta_line, newline, data = value.partition(b"\n")
    if not newline or hashlib.sha256(data).digest() != sha256:
        return None
    try:
        meta = json.loads(meta_line)
    except ValueError:
        return None
    match, id = (meta.get("match"), meta.get("id")) if isinstance(meta, dict) else (0, 0)
    if not (match is None or isinstance(match, str)) or not isinstance(id, str):
        return None
    return Dictionary(data, sha256, match, id)
