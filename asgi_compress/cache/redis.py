"""RedisCache: entries shared by a fleet of hosts, on redis-py's asyncio client.

Redis must never cost a response more than ``timeout``: every command runs under that
deadline, and a failure (refused, reset, timed out, an error reply) opens a circuit breaker:
for ``retry_after`` seconds every ``get`` is a miss and every ``set`` is skipped at once, with
no network I/O. The first command after the cool-down tries again; if it works the circuit
closes (logged at INFO), if not it stays open for another cool-down. Failures are logged at
WARNING at most once per ``log_interval``. A ``set`` refused because Redis is full (``OOM``,
maxmemory with a no-eviction policy) is logged the same way but leaves ``get`` working.

redis-py's asyncio client runs on asyncio only: under trio this backend logs once and
behaves as an empty cache (use :class:`DirectoryCache` there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ._log import ThrottledLog

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCache"]

logger = logging.getLogger("asgi_compress")


def _client(url: str, timeout: float) -> Redis:
    try:
        from redis.asyncio import Redis
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisCache needs redis-py: pip install 'asgi-compress[redis]'"
        ) from error
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class RedisCache:
    """A cache in Redis (>= 6) or Valkey, with a TTL, for several hosts.

    Choose it when several hosts serve the same bodies: one host compresses, the others
    serve its bytes. Give it a Redis whose loss is harmless (a cache, not your session store
    on a no-eviction policy): ``maxmemory`` with ``allkeys-lru`` suits it.

    Args:
        url_or_client: a ``redis://``, ``rediss://`` or ``unix://`` URL, or a
            ``redis.asyncio.Redis`` of your own (its connection settings are then yours).
        ttl: seconds an entry lives (Redis expires it; ``None``: no expiry).
        max_entry_size: larger values are not stored (Redis's own limit is 512 MB).
        timeout: seconds one command may take before it counts as a failure.
        retry_after: seconds the circuit stays open after a failure.
        log_interval: seconds between two failure warnings.
        prefix: prepended to every key, to share a Redis database with other data.

    Raises:
        ValueError: a negative or zero size, time or TTL.
        ImportError: redis-py is not installed (``pip install 'asgi-compress[redis]'``).

    Example:
        >>> cache = RedisCache("redis://cache.internal:6379/0", ttl=24 * 3600)
        >>> app = CompressMiddleware(app, cache=cache)  # doctest: +SKIP
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        ttl: float | None = 24 * 3600,
        max_entry_size: int = 8 * 1024 * 1024,
        timeout: float = 0.05,
        retry_after: float = 10.0,
        log_interval: float = 60.0,
        prefix: str = "asgi-compress:",
    ) -> None:
        for name, value in (
            ("ttl", ttl if ttl is not None else 1),
            ("max_entry_size", max_entry_size),
            ("timeout", timeout),
            ("log_interval", log_interval),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if not isinstance(retry_after, (int, float)) or retry_after < 0:
            raise ValueError(f"retry_after must be a number >= 0, got {retry_after!r}")
        self._owns_client = isinstance(url_or_client, str)
        self.client: Any = (
            _client(url_or_client, timeout) if isinstance(url_or_client, str) else url_or_client
        )
        self.ttl_ms = None if ttl is None else max(1, round(ttl * 1000))
        self.max_entry_size = max_entry_size
        self.timeout = timeout
        self.retry_after = retry_after
        self.log_interval = log_interval
        self.prefix = prefix
        self._open_until = 0.0  # the circuit is open (no I/O) until this monotonic time
        self._failed = False
        self._warnings = ThrottledLog(logger, log_interval)

    @property
    def available(self) -> bool:
        """Whether the circuit is closed: the last command worked, or none failed yet."""
        return not self._failed

    async def get(self, key: str) -> bytes | None:
        """The stored value, or ``None`` on a miss or while Redis is unavailable."""
        value = await self._call("get", self.prefix + key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> bool:
        """Store ``value`` with the TTL; whether Redis took it (not when too large, full or
        unavailable)."""
        if len(value) > self.max_entry_size:
            return False
        return await self._call("set", self.prefix + key, value, px=self.ttl_ms) is True

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await self._call("delete", self.prefix + key)

    async def aclose(self) -> None:
        """Close the connection pool of a client made from a URL (a client given is yours)."""
        if self._owns_client:
            await self.client.aclose()

    async def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        if self._failed and time.monotonic() < self._open_until:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._fail("redis-py's asyncio client needs asyncio, not this event loop")
            return None
        try:
            result = await asyncio.wait_for(
                getattr(self.client, command)(*args, **kwargs), self.timeout
            )
        except Exception as error:
            # redis-py raises OutOfMemoryError for Redis's "-OOM" reply (maxmemory reached
            # under a no-eviction policy): only writes fail, so reads stay on.
            if command == "set" and (
                type(error).__name__ == "OutOfMemoryError" or str(error).startswith("OOM")
            ):
                self._log(f"Redis is full, entry not stored: {error}")
                return None
            self._fail(f"{type(error).__name__}: {error}".rstrip(": "))
            return None
        if self._failed:
            self._failed = False
            logger.info("compression cache: Redis is available again")
        return result

    def _fail(self, why: str) -> None:
        self._failed = True
        self._open_until = time.monotonic() + self.retry_after
        self._log(
            f"compression cache: Redis unavailable ({why}); compressing without it, "
            f"retrying in {self.retry_after:g} s"
        )

    def _log(self, message: str) -> None:
        self._warnings.warning("redis", message)
