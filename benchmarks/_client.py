"""A load-generating worker process for ``eventloop.py``, and the tiny HTTP/1.1 client it uses.

The client is a keep-alive socket that reads exactly the response's Content-Length (or its
chunks) and throws the body away: no decoding, no parsing beyond the head, so the client
processes take as little of the two cores as possible from the server under test.

The worker reads one JSON command per line on stdin and answers one JSON line on stdout:

- ``{"op": "fetch", "port", "path", "ae", "start", "stop"}``: GET ``path`` back to back from
  ``start`` to ``stop`` (``time.time()`` values); answers ``{"count", "bytes"}``.
- ``{"op": "ping", ..., "interval"}``: one GET every ``interval`` seconds; answers
  ``{"latencies"}`` in seconds.
- ``{"op": "mix", "port", "paths", "ae"}``: GET each of ``paths`` in order, back to back;
  answers ``{"sizes", "codings", "statuses"}``, one entry per request.
- ``{"op": "quit"}``: exit. EOF on stdin does the same.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import socket
import sys
import time

__all__ = ["Connection", "main"]


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, port: int, *, timeout: float = 30.0) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()
        self._scratch = memoryview(bytearray(1 << 18))

    def close(self) -> None:
        self._sock.close()

    def _fill(self) -> None:
        data = self._sock.recv(1 << 18)
        if not data:
            raise ConnectionError("server closed the connection")
        self._buffer += data

    def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _skip(self, size: int) -> None:
        """Consume ``size`` body bytes without keeping them."""
        if len(self._buffer) >= size:
            del self._buffer[:size]
            return
        size -= len(self._buffer)
        self._buffer.clear()
        while size:
            got = self._sock.recv_into(self._scratch, min(size, len(self._scratch)))
            if not got:
                raise ConnectionError("server closed the connection mid-body")
            size -= got

    def get(self, path: str, accept_encoding: str | None = None) -> tuple[int, dict[str, str]]:
        """GET ``path``; returns (status, headers with lowercase names); body is skipped.

        The body's length is in ``headers["x-body-bytes"]``.
        """
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n"
        if accept_encoding:
            request += f"Accept-Encoding: {accept_encoding}\r\n"
        self._sock.sendall((request + "\r\n").encode("latin-1"))
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        status = int(head[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = 0
        if "content-length" in headers:
            size = int(headers["content-length"])
            self._skip(size)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while chunk := int(self._read_line().split(b";")[0], 16):
                self._skip(chunk + 2)
                size += chunk
            while self._read_line():  # trailers, then the empty line
                pass
        headers["x-body-bytes"] = str(size)
        return status, headers

    def get_body(self, path: str) -> bytes:
        """GET ``path`` (small, identity responses only) and return the body."""
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        self._sock.sendall(request.encode("latin-1"))
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self._buffer[:end]).decode("latin-1").lower()
        del self._buffer[: end + 4]
        length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
        while len(self._buffer) < length:
            self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def _fetch(command: dict[str, object]) -> dict[str, object]:
    connection = Connection(int(str(command["port"])))
    path, ae = str(command["path"]), command.get("ae")
    stop = float(str(command["stop"]))
    count = size = 0
    _sleep_until(float(str(command["start"])))
    try:
        while time.time() < stop:
            _, headers = connection.get(path, str(ae) if ae else None)
            count += 1
            size += int(headers["x-body-bytes"])
    finally:
        connection.close()
    return {"count": count, "bytes": size}


def _ping(command: dict[str, object]) -> dict[str, object]:
    connection = Connection(int(str(command["port"])))
    path = str(command["path"])
    interval = float(str(command["interval"]))
    start, stop = float(str(command["start"])), float(str(command["stop"]))
    latencies: list[float] = []
    _sleep_until(start)
    tick = start
    try:
        while time.time() < stop:
            began = time.perf_counter()
            connection.get(path)
            latencies.append(time.perf_counter() - began)
            tick += interval
            _sleep_until(max(tick, time.time()))
    finally:
        connection.close()
    return {"latencies": latencies}


def _mix(command: dict[str, object]) -> dict[str, object]:
    connection = Connection(int(str(command["port"])))
    paths = command["paths"]
    assert isinstance(paths, list)
    ae = str(command["ae"])
    sizes: list[int] = []
    codings: list[str] = []
    statuses: list[int] = []
    try:
        for path in paths:
            status, headers = connection.get(str(path), ae)
            sizes.append(int(headers["x-body-bytes"]))
            codings.append(headers.get("content-encoding", "identity"))
            statuses.append(status)
    finally:
        connection.close()
    return {"sizes": sizes, "codings": codings, "statuses": statuses}


_OPS = {"fetch": _fetch, "ping": _ping, "mix": _mix}


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        op = command.get("op")
        if op == "quit":
            break
        try:
            answer = _OPS.get(str(op), _ping)(command)
        except (OSError, ValueError) as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
