"""Watch the encoders the middleware makes, from outside: through the public registry.

``EncoderTracker.install(monkeypatch)`` wraps every factory in
``asgi_compress.codecs.encoders.ENCODERS`` (a middleware takes its factories from there when it
is built, so build it afterwards). Each encoder made is a real one
inside a :class:`TrackedEncoder` that

- keeps a weak reference to itself in the tracker, so a test can tell that no encoder outlived
  its request without scanning the heap (``gc.get_objects()``);
- counts the calls in progress, and on which thread they run: "a worker thread is still
  compressing" and "this chunk was compressed on the event loop's thread" are then plain
  counters, not guesses from stack frames or thread names;
- when ``hold`` is set, parks every call made off the event loop's thread until ``release``
  is set, so a test can act while a chunk is known to be on a worker thread.

Nothing here reads the middleware's internals: an encoder is whatever the registry makes, and
every call the middleware makes on it goes through the three verbs of the ``Encoder`` protocol.

``record_parsed_headers(monkeypatch)`` watches the public Accept-Encoding parser the same way:
every value it parses afresh is recorded, so a memo is seen from outside.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

import asgi_compress.codecs.encoders
from asgi_compress.codecs.encoders import Encoder
from asgi_compress.http.negotiation import AcceptEncoding

__all__ = ["EncoderTracker", "TrackedEncoder", "record_parsed_headers"]


class EncoderTracker:
    """Every encoder made through the registry while installed, and every call on them."""

    def __init__(self) -> None:
        # The tests' event loops (asyncio and trio under anyio's pytest plugin) run on the
        # thread that sets up the fixtures.
        self.loop_thread = threading.get_ident()
        self.made: list[weakref.ref[TrackedEncoder]] = []
        self.condition = threading.Condition()
        self.running = 0
        """Encoder calls in progress, on any thread."""
        self.running_off_loop = 0
        """Encoder calls in progress on a thread other than the event loop's."""
        self.peak_off_loop = 0
        """The most encoder calls that were ever in progress off the loop at once."""
        self.threads: list[int] = []
        """The thread of every call, in the order the calls began."""
        self.hold = False
        self.entered = threading.Event()
        """Set when a call off the loop's thread begins (and, with ``hold``, parks)."""
        self.release = threading.Event()
        self._order = itertools.count()
        self.call_ends: list[int] = []
        """The order stamp (``stamp()``) at which each call ended."""

    def install(self, monkeypatch: pytest.MonkeyPatch) -> EncoderTracker:
        for token, factory in list(asgi_compress.codecs.encoders.ENCODERS.items()):
            monkeypatch.setitem(asgi_compress.codecs.encoders.ENCODERS, token, self._wrap(factory))
        return self

    def _wrap(self, factory: Callable[..., Encoder]) -> Callable[..., Encoder]:
        def make(*args: Any, **kwargs: Any) -> Encoder:
            encoder = TrackedEncoder(factory(*args, **kwargs), self)
            self.made.append(weakref.ref(encoder))
            return encoder

        return make

    def stamp(self) -> int:
        """A number larger than every stamp taken before, from any thread."""
        with self.condition:
            return next(self._order)

    def live(self, within: float = 5) -> int:
        """How many of the encoders made are still referenced by anything.

        A worker thread drops its reference to the call it ran (a bound method of the
        encoder) a moment after it hands the result back, possibly after the request has
        ended: so an encoder still referenced is looked at again until ``within`` seconds
        have passed (a bound on the wait, not a measurement: a leak fails after it).
        """
        give_up = time.monotonic() + within
        while True:
            if not any(ref() is not None for ref in self.made):
                return 0
            gc.collect()  # only when needed: a request's frames may sit in a reference cycle
            alive = sum(ref() is not None for ref in self.made)
            if alive == 0 or time.monotonic() > give_up:
                return alive
            time.sleep(0.001)

    @property
    def off_loop_calls(self) -> int:
        return sum(thread != self.loop_thread for thread in self.threads)

    def wait_idle(self, timeout: float = 10) -> bool:
        """Release any parked call and wait (bounded) until no call is in progress."""
        self.release.set()
        with self.condition:
            return self.condition.wait_for(lambda: self.running == 0, timeout=timeout)

    def _begin(self) -> bool:
        off_loop = threading.get_ident() != self.loop_thread
        with self.condition:
            self.running += 1
            self.running_off_loop += off_loop
            self.peak_off_loop = max(self.peak_off_loop, self.running_off_loop)
            self.threads.append(threading.get_ident())
        if off_loop:
            self.entered.set()
            if self.hold:
                assert self.release.wait(timeout=10), "the test never released the encoder"
        return off_loop

    def _end(self, off_loop: bool) -> None:
        with self.condition:
            self.running -= 1
            self.running_off_loop -= off_loop
            self.call_ends.append(next(self._order))
            self.condition.notify_all()


class TrackedEncoder:
    """A real encoder, with every call counted by its tracker."""

    encoding: ClassVar[str] = "tracked"  # the Encoder protocol's; the real one's is inside

    def __init__(self, inner: Encoder, tracker: EncoderTracker) -> None:
        self._inner = inner
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:  # anything beyond the three verbs: the real one's
        return getattr(self._inner, name)

    def _call(self, verb: str, chunk: bytes) -> bytes:
        off_loop = self._tracker._begin()
        try:
            result: bytes = getattr(self._inner, verb)(chunk)
            return result
        finally:
            self._tracker._end(off_loop)

    def compress(self, chunk: bytes) -> bytes:
        return self._call("compress", chunk)

    def flush(self, chunk: bytes = b"") -> bytes:
        return self._call("flush", chunk)

    def finish(self, chunk: bytes = b"") -> bytes:
        return self._call("finish", chunk)


def record_parsed_headers(patch: pytest.MonkeyPatch) -> list[str]:
    """Every value ``AcceptEncoding.from_header`` (public) parses while ``patch`` is active:
    what was parsed afresh, and what was answered without parsing (memoized, or refused)."""
    parsed: list[str] = []
    real = AcceptEncoding.from_header.__func__  # type: ignore[attr-defined]

    def counting(cls: type[AcceptEncoding], value: str) -> AcceptEncoding:
        parsed.append(value)
        result: AcceptEncoding = real(cls, value)
        return result

    patch.setattr(AcceptEncoding, "from_header", classmethod(counting))
    return parsed
