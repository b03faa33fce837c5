"""DirectoryCache: entries as files, shared by the worker processes of one host.

Layout: ``ROOT/abcdef...``, each entry a file named by the SHA-256 of its key, all in the one
directory. No shards: a directory costs a block (4 KiB on ext4) even nearly empty, so 256 of
them took 1 MiB before a byte was cached, and file systems index large directories (ext4's
htree, XFS, btrfs, NTFS). Shard folders of older versions (``ROOT/ab/...``) are swept like
the rest and removed once empty. Writes go to a temporary file in ROOT and are renamed over
the entry (``os.replace``, atomic on POSIX and Windows): a reader sees the old file or the new
one, never half of one; a reader that opened a file keeps reading it even if another process
replaces or deletes it.

Bound: what the disk holds, not the bytes written. A 100-byte file takes a whole block, so
each file counts its allocated blocks (``st_blocks`` * 512), at least its size rounded up to
the file system's block size (``statvfs().f_bsize``); ROOT itself (a directory's blocks grow
with its entries) and anything else in it count too. So the sum of ``st_blocks`` * 512 of
everything under ROOT, ROOT included, stays within ``max_bytes`` plus the slack below. A
``max_bytes`` smaller than ROOT's own blocks keeps nothing.

Eviction: each process counts what it wrote since its last sweep; when its estimate of the
total passes ``max_bytes``, or it has written a tenth of ``max_bytes`` since, it sweeps: it
scans ROOT, and if it holds more than ``max_bytes`` it deletes the least recently used files
(oldest modification time: a hit refreshes it, at most once a minute) down to 90%. A sweep
takes a non-blocking ``flock`` on ``ROOT/.sweep.lock``, so only one process sweeps at a time;
deleting a file another process already deleted is not an error. Slack: one process alone
stays within ``max_bytes``; with several, each may add up to a tenth of it between its sweeps,
unseen by the others. Temporary files left by a crash are removed by the next sweep after an
hour.

Every file operation runs on a worker thread (the compression limiter's), never on the loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import threading
import time
from functools import partial
from pathlib import Path

from ..codecs._offload import offload

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: sweeps are not serialized
    fcntl = None  # type: ignore[assignment]

__all__ = ["DirectoryCache"]

_TMP = ".tmp-"
_LOCK = ".sweep.lock"
_TOUCH_AFTER_S = 60.0  # refresh a hit's mtime at most this often: one metadata write a minute
_ORPHAN_AGE_S = 3600.0
_BLOCK = 4096  # when the file system does not say (Windows: no statvfs)


def _block_size(path: Path) -> int:
    try:
        return os.statvfs(path).f_bsize or _BLOCK
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return _BLOCK


def _on_disk(status: os.stat_result, block: int) -> int:
    """What a file or directory takes on disk: its allocated blocks, and at least its size in
    whole blocks (Windows has no ``st_blocks``; btrfs reports none for a file it inlined)."""
    return max(getattr(status, "st_blocks", 0) * 512, -(-status.st_size // block) * block)


class DirectoryCache:
    """A cache of files under one directory, bounded in the disk it takes, for several
    processes.

    Choose it for ``uvicorn --workers N`` on one host, and to keep compressed bodies across
    restarts and deploys (``python -m asgi_compress warm`` fills it). Use a local disk (or a
    tmpfs): rename and flock on network file systems are not reliable.

    Args:
        path: the directory (created if missing). Give it to this cache alone.
        max_bytes: the disk the directory may take, counted in allocated blocks (a small
            entry takes a whole block: 4 KiB on most file systems); the least recently used
            entries go first.

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
        self._block = _block_size(self.path)
        self._lock = threading.Lock()
        self._estimate: int | None = None  # the total at the last sweep; unknown until one
        self._root = 0  # ROOT's own blocks at the last sweep
        self._written = 0  # the disk taken by files written since

    def file_for(self, key: str) -> Path:
        """The file that holds ``key``'s entry."""
        return self.path / hashlib.sha256(key.encode()).hexdigest()

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
        block = self._block
        if -(-len(value) // block) * block > self.max_bytes:
            return
        tmp = self.path / f"{_TMP}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            with open(tmp, "wb") as handle:
                handle.write(value)
                handle.flush()
                cost = _on_disk(os.fstat(handle.fileno()), block)
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        root = _on_disk(os.stat(self.path), block)  # a directory grows with its entries
        with self._lock:
            self._written += cost
            due = (
                self._estimate is None
                or self._estimate + self._written + max(0, root - self._root) > self.max_bytes
                or self._written * 10 > self.max_bytes
            )
            if due:
                self._written = 0
        if due:
            self.sweep()

    def sweep(self) -> int:
        """Delete the least recently used files until the total fits; return the total kept
        (in bytes on disk, directories included).

        Called by ``set`` when due; safe to call from any process at any time (a sweep
        already running elsewhere makes this one return the last estimate at once).
        """
        with open(self.path / _LOCK, "a+b") as lock:
            if fcntl is not None:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return self._estimate or 0
            total, root = self._sweep_locked()
        with self._lock:
            self._estimate = total
            self._root = root
        return total

    def _sweep_locked(self) -> tuple[int, int]:
        """Returns the total kept and ROOT's own part of it."""
        now = time.time()
        block = self._block
        root = _on_disk(os.stat(self.path), block)
        total = root
        files: list[tuple[float, int, str, str | None]] = []  # mtime, cost, path, its shard
        shards: dict[str, list[int]] = {}  # an older version's ROOT/ab/: [cost, entries left]

        def scan(directory: str, shard: str | None) -> None:
            nonlocal total
            for entry in os.scandir(directory):
                try:
                    status = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                name = entry.name
                if name.startswith(_TMP) and now - status.st_mtime > _ORPHAN_AGE_S:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                    continue
                cost = _on_disk(status, block)
                total += cost
                if shard is not None:
                    shards[shard][1] += 1
                if stat.S_ISDIR(status.st_mode):
                    if shard is None:
                        shards[entry.path] = [cost, 0]
                        scan(entry.path, entry.path)
                elif stat.S_ISREG(status.st_mode) and not name.startswith((_TMP, _LOCK)):
                    files.append((status.st_mtime, cost, entry.path, shard))

        def remove_if_empty(shard: str) -> None:
            nonlocal total
            if shards[shard][1] == 0:
                with contextlib.suppress(OSError):  # not empty after all: kept, and counted
                    os.rmdir(shard)
                    total -= shards[shard][0]

        scan(str(self.path), None)
        if total <= self.max_bytes:
            return total, root
        for shard in shards:
            remove_if_empty(shard)
        target = self.max_bytes * 9 // 10
        files.sort()
        for _, cost, path, folder in files:
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= cost
            if folder is not None:
                shards[folder][1] -= 1
                remove_if_empty(folder)
        return total, root
