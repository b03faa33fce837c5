"""A per-stream timer that bounds how long a byte waits for its flush, on asyncio and trio.

A coalesced stream feeds the app's messages to the encoder without flushing, so bytes wait
inside the codec until something flushes them. The app's own ``send`` calls cannot do it:
when the app pauses (waits for a database, a model's next token), nothing of ours runs. So a
stream that holds unflushed bytes gets one small task that sleeps until ``delay`` seconds
after the oldest of them arrived, then calls the responder back to flush. Messages that
arrive within that time are coalesced; none waits longer, whether the app pauses or keeps
sending (a token every 4 ms under a 5 ms delay is still flushed every 5 ms).

Why a task of its own and not a task group around the app: a task group would cost every
request (tens of microseconds), while only streams need a timer; the task is started on the
first message that leaves bytes unflushed, so responses that are not streams never get one.
anyio has no detached tasks, so the task is the backend's own (``asyncio`` task or trio
system task) running anyio code, inside a cancel scope that :meth:`PauseTimer.close`
cancels: the responder closes it when the response ends, fails or is cancelled, and the task
never outlives its request. It never raises: an error in the callback is kept for the
responder (``error``), since an exception in a trio system task would end the whole run.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

__all__ = ["PauseTimer"]


class PauseTimer:
    """Calls ``on_pause()`` ``delay`` seconds after bytes began to wait for a flush.

    :meth:`touch` after each message that leaves bytes waiting; :meth:`close` at the end.
    The callback runs in the timer's own task; it is never called twice at once.
    """

    __slots__ = (
        "_armed",
        "_closed",
        "_delay",
        "_since",
        "_on_pause",
        "_scope",
        "_task",
        "_wake",
        "error",
    )

    def __init__(self, delay: float, on_pause: Callable[[], Awaitable[None]]) -> None:
        self._delay = delay
        self._on_pause = on_pause
        self._since = 0.0
        self._armed = False
        self._closed = False
        self._scope: anyio.CancelScope | None = None
        self._wake = anyio.Event()
        self.error: Exception | None = None
        # Kept here: asyncio holds only weak references to its tasks.
        self._task: Any = _spawn(self._run)

    def touch(self) -> None:
        """Something waits to be flushed: call back ``delay`` seconds after the first touch
        since the last call back. Counting from the oldest waiting byte, not the newest,
        bounds how long any byte waits, even for an app that never pauses that long."""
        if not self._armed:
            self._since = anyio.current_time()
            self._armed = True
            self._wake.set()

    def close(self) -> None:
        """Stop the timer; its task ends at its next checkpoint. Safe to call twice."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()

    async def _run(self) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._closed:
                return
            try:
                while True:
                    await self._wake.wait()
                    left = self._since + self._delay - anyio.current_time()
                    if left > 0:
                        await anyio.sleep(left)
                    self._armed = False
                    self._wake = anyio.Event()
                    await self._on_pause()
            except Exception as error:  # kept for the responder; a system task must not raise
                self.error = error


def _spawn(run: Callable[[], Awaitable[None]]) -> Any:
    """Start ``run()`` as a task of the running backend's own; the asyncio task, if any."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass  # trio is imported, but this is not a trio run
        else:
            trio.lowlevel.spawn_system_task(run)
            return None
    import asyncio

    return asyncio.get_running_loop().create_task(run())  # type: ignore[arg-type]
