"""ResponseCache: the seam between the responder and a cache backend.

The responder asks :func:`cacheable` of a response's head, then, for a whole body it is about
to encode, calls :meth:`ResponseCache.lookup`. On a hit it sends the verified bytes; on a miss
it encodes as usual, sends the response, and only then calls :meth:`ResponseCache.store`, in
the request's own task: storing (or recompressing at a cache level) never delays a byte of
the response, and no background task exists to be left running at shutdown.

With ``levels`` (``{"br": 11}``), entries of those codings hold bytes encoded at the cache
level, made by ``store`` on a worker thread when an improvement slot is free. Under load (all
slots busy) ``store`` drops the work and returns at once: the response already went out at the
normal level, and a later miss will try again.

With ``promote_after=2`` (the middleware's default cache) a body is recompressed at its level
only when it is missed a second time: ``store`` counts the first miss in a small bounded record
(``_sightings.py``) and stores nothing, so a body that never comes back never pays br-11.

The responder's side, for a whole body it is about to encode (sketch)::

    cache = policy.cache
    if cache is not None and cacheable(head_headers) and not settings.breach_padding:
        found = await cache.lookup(coding, body, settings.encoders[coding],
                                   slot=policy.cache_key)
        if found.hit:
            ...send found.encoded (Content-Length: its length); report cached=True
            return
    ...encode as usual (encoded, or None when it did not pay), send the last byte
    if found is not None:
        await cache.store(found, encoded)   # after the response, in this task
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio

from ..codecs._offload import offload
from ..settings import _RANGES
from ._entry import address, body_digest, encoder_params, pack, unpack
from ._log import ThrottledLog
from ._sightings import DEFAULT_SIGHTINGS, Sightings

if TYPE_CHECKING:
    from ..codecs.encoders import Encoder
    from . import CacheBackend

__all__ = [
    "DEFAULT_CACHE_LEVELS",
    "DEFAULT_CACHE_MAX_SIZE",
    "CacheLookup",
    "ResponseCache",
    "backend_get",
    "backend_set",
    "cacheable",
]

logger = logging.getLogger("asgi_compress")

DEFAULT_CACHE_MAX_SIZE = 1024 * 1024
"""The largest body with a declared Content-Length the responder collects to cache."""

DEFAULT_LOG_INTERVAL = 60.0
"""Seconds between two warnings of one failing backend method (as RedisCache's default)."""

DEFAULT_CACHE_LEVELS: Mapping[str, int] = MappingProxyType({"br": 11, "zstd": 19, "gzip": 9})
"""The middleware's ``cache_levels``: each coding's best level (deflate is left at its own:
its clients are rare). gzip-9 is kept only where it beats the normal level (``store``)."""

# coding -> (the option that holds its level, the encoder keyword that takes it)
_LEVEL_OPTION = {
    "gzip": ("level", "level"),
    "deflate": ("deflate_level", "level"),
    "br": ("br_level", "quality"),
    "zstd": ("zstd_level", "level"),
}


def cacheable(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a response, by its head, may have its encoded body cached.

    Not when it sets a cookie (the body is likely per user), nor with ``Cache-Control:
    no-store`` (RFC 9111 section 5.2.2.5: do not store any part of it) or ``private``
    (section 5.2.2.7: not for a shared cache, which Redis or a directory is).

    Example:
        >>> cacheable([(b"cache-control", b"public, max-age=60")])
        True
        >>> cacheable([(b"set-cookie", b"session=1")])
        False
    """
    for name, value in headers:
        name = name.lower()
        if name == b"set-cookie":
            return False
        if name == b"cache-control":
            for directive in value.lower().split(b","):
                token = directive.split(b"=", 1)[0].strip()
                if token in (b"no-store", b"private"):
                    return False
    return True


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """One lookup's result, handed back to :meth:`ResponseCache.store` after a miss.

    Attributes:
        coding: the content coding looked up.
        encoded: the verified cached bytes, or ``None`` on a miss.
        key: the backend key of the entry.
        digest: the SHA-256 of ``body``.
        body: the uncompressed body (kept to recompress it at the cache level).
        encoder: the encoder factory to recompress with, or ``None`` (no cache level: store
            the bytes the response was sent with).
    """

    coding: str
    encoded: bytes | None
    key: str
    digest: bytes
    body: bytes
    encoder: Callable[[], Encoder] | None

    @property
    def hit(self) -> bool:
        """Whether the cache had a valid entry."""
        return self.encoded is not None


class ResponseCache:
    """Encoded bodies in a backend, addressed by coding, encoder parameters and body digest.

    Args:
        backend: anything with ``get(key)`` and ``set(key, value)``, sync or async
            (:class:`DictCache`, :class:`DirectoryCache`, :class:`RedisCache`, a
            Flask-Caching or aiocache object). Its failures are logged (each of ``get``
            and ``set`` at most once per ``log_interval``), never raised.
        levels: coding -> level to store entries at (``{"br": 11, "zstd": 19}``), checked
            against the coding's range (gzip/deflate -1..9, br 0..11, zstd up to 22).
        max_size: the largest declared Content-Length the responder collects to cache.
        secret: keys the entries' HMAC, so that whoever can write to the backend but does
            not know it cannot forge an entry (empty: a checksum only).
        improve_slots: how many cache-level recompressions may run at once (more are
            dropped); at most the compression limiter's threads are ever used.
        promote_after: how many misses of one entry it takes to recompress it at its
            level: 1, the first (for bodies known to repeat: static files, a warm-up); 2, a
            body seen once is never recompressed (the middleware's). Codings without a
            level store the bytes sent at the first miss either way.
        sightings: how many missed entries are remembered to count their misses.
        log_interval: seconds between two warnings of a failing ``get`` (or ``set``); the
            next one counts those held back.

    Raises:
        ValueError: a level out of range, an unknown coding, a bad size, slot count or
            interval.
        TypeError: a backend without ``get``/``set``.
    """

    def __init__(
        self,
        backend: CacheBackend,
        *,
        levels: Mapping[str, int] | None = None,
        max_size: int = DEFAULT_CACHE_MAX_SIZE,
        secret: bytes = b"",
        improve_slots: int = 1,
        promote_after: int = 1,
        sightings: int = DEFAULT_SIGHTINGS,
        log_interval: float = DEFAULT_LOG_INTERVAL,
    ) -> None:
        if not all(callable(getattr(backend, verb, None)) for verb in ("get", "set")):
            raise TypeError(f"cache must have get() and set() methods, got {backend!r}")
        self.backend = backend
        self.levels = validate_levels(levels or {})
        for name, value, least in (
            ("cache_max_size", max_size, 0),
            ("improve_slots", improve_slots, 0),
            ("promote_after", promote_after, 1),
            ("sightings", sightings, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
        if (
            not isinstance(log_interval, (int, float))
            or isinstance(log_interval, bool)
            or not log_interval > 0
        ):
            raise ValueError(f"log_interval must be a number > 0, got {log_interval!r}")
        if not isinstance(secret, bytes):
            raise TypeError(f"secret must be bytes, got {secret!r}")
        self.max_size = max_size
        self.improve_slots = improve_slots
        self.promote_after = promote_after
        self._sightings = Sightings(sightings)
        self._secret = secret
        self._failures = ThrottledLog(logger, log_interval)
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()  # the middleware may serve several event loops

    async def lookup(
        self,
        coding: str,
        body: bytes,
        encoder: Callable[[], Encoder] | str,
        *,
        slot: str | None = None,
    ) -> CacheLookup:
        """Find the encoded ``body`` for ``coding``; the result says hit or miss.

        Args:
            coding: the negotiated content coding.
            body: the whole uncompressed body the app produced.
            encoder: the factory the response would be encoded with
                (``settings.encoders[coding]``); its parameters are part of the address. A
                string names them instead, for an encoder that is not a settings factory (a
                dcz body's: its dictionary and level), and is never recompressed at a level.
            slot: an app-chosen entry name (Flask-Compress's ``cache_key``); ``None``
                addresses the entry by the body's digest. Either way only an entry made from
                this very body is served.
        """
        level = self.levels.get(coding)
        target: Callable[[], Encoder] | None = None
        if level is not None and not isinstance(encoder, str):
            target = _at_level(encoder, coding, level)
        digest = body_digest(body)
        key = address(coding, encoder_params(target or encoder), digest=digest, slot=slot)
        value = await _call(self.backend, "get", key, log=self._failures)
        encoded = unpack(self._secret, key, digest, value) if value is not None else None
        return CacheLookup(coding, encoded, key, digest, body, target)

    async def store(self, found: CacheLookup, encoded: bytes | None) -> bool:
        """After a miss, once the response went out: keep its bytes, or better ones.

        Args:
            found: what :meth:`lookup` returned.
            encoded: the bytes the response was sent with (``None``: it was not encoded).

        Returns:
            Whether an entry was written (``False`` on a hit, on a miss too early to be
            promoted (``promote_after``), when dropped under load, when encoding did not
            make the body smaller, when the backend raised, or when its ``set`` returned
            ``False``, as :class:`RedisCache` does for an entry it skipped).
        """
        if found.hit:
            return False
        # Shielded: the response is complete, and servers say so by answering the app's
        # ``receive()`` with ``http.disconnect`` (uvicorn does at once). An app that then
        # cancels its own work (Starlette's FileResponse under ASGI spec < 2.4 cancels its
        # task group) would cancel this store at its first await: a file write or a
        # recompression on a thread, so only backends that never await ever got an entry.
        # The work is bounded: one recompression and one backend call, under its timeout.
        with anyio.CancelScope(shield=True):
            stored = await self._store(found, encoded)
        return stored

    async def _store(self, found: CacheLookup, encoded: bytes | None) -> bool:
        if found.encoder is not None:
            # A slot's entry is named by the app, not the body: count each body apart.
            token = hash((found.key, found.digest))
            with self._lock:
                if self.promote_after > 1 and self._sightings.note(token) < self.promote_after:
                    return False  # seen too few times to pay the cache level's CPU
                if len(self._in_flight) >= self.improve_slots or found.key in self._in_flight:
                    return False  # under load: drop, never queue (the count stays)
                self._in_flight.add(found.key)
                self._sightings.forget(token)
            try:
                better = await offload(_encode_whole, (found.encoder, found.body))
            finally:
                with self._lock:
                    self._in_flight.discard(found.key)
            # A higher level is not always smaller (gzip-9 against zlib-ng's 6 on JSON, in
            # benchmarks/results/cache.md): both decode to the body, so keep the smaller.
            if encoded is None or len(better) < len(encoded):
                encoded = better
        if encoded is None or len(encoded) >= len(found.body):
            return False
        value = pack(self._secret, found.key, found.digest, encoded)
        result = await _call(self.backend, "set", found.key, value, log=self._failures)
        return result is not _FAILED and result is not False


_FAILED = object()
# The dictionary store's calls (backend_get / backend_set): one throttle per process.
_FAILURES = ThrottledLog(logger, DEFAULT_LOG_INTERVAL)


async def backend_get(backend: CacheBackend, key: str) -> bytes | None:
    """``backend.get(key)``, sync or async; a failure is logged and counts as a miss.

    For other keepers of bytes in the same backends (the dictionary store, RFC 9842).
    """
    value = await _call(backend, "get", key, log=_FAILURES)
    return value if isinstance(value, bytes) else None


async def backend_set(backend: CacheBackend, key: str, value: bytes) -> bool:
    """``backend.set(key, value)``, sync or async; returns whether it was written (a
    failure is logged, never raised)."""
    result = await _call(backend, "set", key, value, log=_FAILURES)
    return result is not _FAILED and result is not False


async def _call(backend: Any, method: str, *args: Any, log: ThrottledLog) -> Any:
    """``backend.method(*args)``, sync or async; a failure is logged (throttled by
    ``log``), never raised."""
    try:
        result = getattr(backend, method)(*args)
        if inspect.isawaitable(result):
            result = await result
    except Exception:
        message = f"compression cache {method}() failed; compressing instead"
        log.warning(method, message, exc_info=True)
        return _FAILED
    return result


def _encode_whole(job: tuple[Callable[[], Encoder], bytes]) -> bytes:
    factory, body = job
    return factory().finish(body)


def _at_level(encoder: Callable[[], Encoder], coding: str, level: int) -> Callable[[], Encoder]:
    if not isinstance(encoder, partial):
        raise TypeError(f"cache_levels needs a functools.partial encoder factory, got {encoder!r}")
    keyword = _LEVEL_OPTION[coding][1]
    return partial(encoder.func, *encoder.args, **{**encoder.keywords, keyword: level})


def validate_levels(levels: Mapping[str, int]) -> dict[str, int]:
    """Check ``cache_levels``: known codings, each level in its coding's range.

    Raises:
        TypeError: not a mapping of str to int.
        ValueError: an unknown coding or a level out of range (the message names both).
    """
    if not isinstance(levels, Mapping):
        raise TypeError(f"cache_levels must be a dict of coding -> level, got {levels!r}")
    checked: dict[str, int] = {}
    for coding, level in levels.items():
        if coding not in _LEVEL_OPTION:
            known = ", ".join(_LEVEL_OPTION)
            raise ValueError(f"cache_levels: unknown coding {coding!r}; known codings: {known}")
        if not isinstance(level, int) or isinstance(level, bool):
            raise TypeError(f"cache_levels[{coding!r}] must be an int, got {level!r}")
        low, high = _RANGES[_LEVEL_OPTION[coding][0]]
        if level < low or (high is not None and level > high):
            raise ValueError(f"cache_levels[{coding!r}] must be in {low}..{high}, got {level}")
        checked[coding] = level
    return checked
