"""DirectoryCache: entries as files, shared by the worker processes of one host.

Layout: ``ROOT/ab/abcdef...``, the file named by the SHA-256 of the key, in one of 256
subdirectories (so no directory grows huge). Writes go to a temporary file in the same
subdirectory and are renamed over the entry (``os.replace``, atomic on POSIX and Windows):
a reader sees the old file or the new one, never half of one; a reader that opened a file
keeps reading it even if another process replaces or deletes it.

Bound and eviction: each process counts what it wrote since its last sweep; when its
estimate of the total passes ``max_bytes``, or it has written a tenth of ``max_bytes`` since,
it sweeps: it scans the files, and if they hold more than ``max_bytes`` it deletes the least
recently used (oldest modification time: a hit refreshes it, at most once a minute) down to
90%. A sweep takes a non-blocking ``flock`` on ``ROOT/.sweep.lock``, so only one process
sweeps at a time; deleting a file another process already deleted is not an error. The total
may so pass ``max_bytes`` by up to a tenth of it per writing process between sweeps.
Temporary files left by a crash are removed by the next sweep after an hour.

Every file operation runs on a worker thread (the compression limiter's), never on the loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from functools import partial
from pathlib import Path

from .._offload import offload

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: sweeps are not serialized
    fcntl = None  # type: ignore[assignment]

__all__ = ["DirectoryCache"]

_TMP = ".tmp-"
_TOUCH_AFTER_S = 60.0  # refresh a hit's mtime at most this often: one metadata write a minute
_ORPHAN_AGE_S = 3600.0


class DirectoryCache:
    """A cache of files under one directory, bounded in total bytes, for several processes.

    Choose it for ``uvicorn --workers N`` on one host, and to keep compressed bodies across
    restarts and deploys (``python -m asgi_compress warm`` fills it). Use a local disk (or a
    tmpfs): rename and flock on network file systems are not reliable.

    Args:
        path: the directory (created if missing). Give it to this cache alone.
        max_bytes: the total size of the files to keep; the least recently used go first.

    Raises:
        ValueError: ``max_bytes`` not an int > 0.

    Example:
        >>> cache = DirectoryCache("/var/cache/myapp-compress", max_bytes=512 * 1024 * 1024)
        >>> app = CompressMiddleware(app, cache=cache)  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 256 * 1024 * 1024) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be an int > 0, got {max_bytes!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._estimate: int | None = None  # unknown until the first sweep
        self._written = 0

    def file_for(self, key: str) -> Path:
        """The file that holds ``key``'s entry."""
        name = hashlib.sha256(key.encode()).hexdigest()
        return self.path / name[:2] / name

    async def get(self, key: str) -> bytes | None:
        """The stored value, or ``None``."""
        return await offload(self._read, self.file_for(key))

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` atomically; sweep if the directory may be full."""
        await offload(partial(self._write, self.file_for(key)), value)

    def _read(self, file: Path) -> bytes | None:
        try:
            with open(file, "rb") as handle:
                data = handle.read()
                if time.time() - os.fstat(handle.fileno()).st_mtime > _TOUCH_AFTER_S:
                    with contextlib.suppress(OSError):
                        os.utime(handle.fileno())
                return data
        except FileNotFoundError:
            return None

    def _write(self, file: Path, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        file.parent.mkdir(exist_ok=True)
        tmp = file.parent / f"{_TMP}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            with open(tmp, "wb") as handle:
                handle.write(value)
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        with self._lock:
            self._written += len(value)
            due = (
                self._estimate is None
                or self._estimate + self._written > self.max_bytes
                or self._written * 10 > self.max_bytes
            )
            if due:
                self._written = 0
        if due:
            self.sweep()

    def sweep(self) -> int:
        """Delete the least recently used files until the total fits; return the total kept.

        Called by ``set`` when due; safe to call from any process at any time (a sweep
        already running elsewhere makes this one return the last estimate at once).
        """
        lock_file = self.path / ".sweep.lock"
        with open(lock_file, "a+b") as lock:
            if fcntl is not None:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return self._estimate or 0
            total = self._sweep_locked()
        with self._lock:
            self._estimate = total
        return total

    def _sweep_locked(self) -> int:
        now = time.time()
        files: list[tuple[float, int, str]] = []
        total = 0
        for shard in os.scandir(self.path):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(shard.path):
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if entry.name.startswith(_TMP):
                    if now - stat.st_mtime > _ORPHAN_AGE_S:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                    continue
                files.append((stat.st_mtime, stat.st_size, entry.path))
                total += stat.st_size
        if total <= self.max_bytes:
            return total
        target = self.max_bytes * 9 // 10
        files.sort()
        for _, size, path in files:
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= size
        return total
