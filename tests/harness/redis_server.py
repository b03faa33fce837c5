"""A real redis-server on 127.0.0.1 for the cache tests (not a test module: a helper).

``RedisServer(port).start()`` runs Debian's ``redis-server`` with persistence off, waits
(bounded) until it answers PING, and ``stop()`` kills it; the kill/restart tests use the same
port again. ``redis_unavailable_reason()`` says why the tests must skip (no binary, no
redis-py), or ``None``.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time

__all__ = ["RedisServer", "free_port", "redis_unavailable_reason"]


def redis_unavailable_reason() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server; .ci/run does)"
    if importlib.util.find_spec("redis") is None:
        return "redis-py is not installed (pip install 'asgi-compress[redis]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process on ``port``; ``url`` is its redis:// address."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> RedisServer:
        command = [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not self._answers_ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(7) == b"+PONG\r\n"
        except OSError:
            return False
