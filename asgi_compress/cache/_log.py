"""ThrottledLog: a warning that repeats on every request is logged once per interval.

A cache backend that fails (Redis down, a full disk) fails for every request until it
recovers: logged each time, it buries the log (a full disk once wrote 240 tracebacks in 3 s).
So each kind of failure is logged at most once per ``interval``, and the next one says how
many were held back in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["ThrottledLog"]


class ThrottledLog:
    """Warnings at most once per ``interval`` seconds for each ``kind``.

    Args:
        logger: where the warnings go.
        interval: seconds between two warnings of one kind.
        clock: seconds, monotonic (the default is :func:`time.monotonic`; a test may pass
            its own).

    Example:
        >>> log = ThrottledLog(logging.getLogger("asgi_compress"), 60.0)
        >>> log.warning("set", "compression cache set() failed")
        True
        >>> log.warning("set", "compression cache set() failed")
        False
    """

    __slots__ = ("_clock", "_held", "_last", "_lock", "interval", "logger")

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()  # a cache may serve several event loops' threads

    def warning(self, kind: str, message: str, *, exc_info: bool = False) -> bool:
        """Log ``message`` unless a warning of ``kind`` was logged less than ``interval``
        ago (then count it); returns whether it was logged."""
        now = self._clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._last[kind] = now
            held = self._held.pop(kind, 0)
        if held:
            message = f"{message} ({held} more like it since the last warning)"
        self.logger.warning(message, exc_info=exc_info)
        return True
