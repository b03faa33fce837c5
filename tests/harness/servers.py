"""Run a real ASGI server in a subprocess on 127.0.0.1, for the interop tests.

Not a test module: a helper. ``serve()`` picks a free port, starts the server with
``sys.executable -m <server>``, waits (bounded) until it answers HTTP, yields the base URL,
and always stops it::

    with serve("examples.starlette_app:app", "uvicorn-h11") as base_url:
        httpx.get(base_url + "/")

Servers never outlive the tests. On the way out of the ``with`` block, however it is left,
the server's whole process group (granian's workers included) gets SIGTERM, then SIGKILL if
it is still there after ``shutdown_timeout``. If the test process dies without unwinding
(SIGKILL, a crash), Linux sends the server SIGTERM (``PR_SET_PDEATHSIG``), and it shuts down
its own workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import pytest

from tests.harness import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = [
    "SERVER_KINDS",
    "ServerError",
    "free_port",
    "run_server",
    "serve",
    "server_command",
    "server_unavailable_reason",
]

SERVER_KINDS = ("uvicorn-h11", "uvicorn-httptools", "hypercorn", "granian")
"""The servers ``serve()`` knows: uvicorn on each of its HTTP/1.1 parsers, hypercorn, granian."""

# kind -> the modules it needs, and the package that brings them.
_REQUIREMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "uvicorn-h11": (("uvicorn", "uvicorn"), ("h11", "h11")),
    "uvicorn-httptools": (("uvicorn", "uvicorn"), ("httptools", "httptools")),
    "hypercorn": (("hypercorn", "hypercorn"), ("h11", "h11")),
    "granian": (("granian", "granian"),),
}

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerError(RuntimeError):
    """The server exited or did not answer in time; the message ends with its output."""


def server_unavailable_reason(kind: str) -> str | None:
    """Why ``kind`` cannot run here (a module that is not installed), or None if it can."""
    if kind not in _REQUIREMENTS:
        raise ValueError(f"unknown server kind {kind!r}; known: {', '.join(SERVER_KINDS)}")
    for module, package in _REQUIREMENTS[kind]:
        if importlib.util.find_spec(module) is None:
            return f"{kind}: the {module!r} module is not installed (pip install {package})"
    return None


def server_command(kind: str, app: str, port: int) -> list[str]:
    """The command line that serves ``app`` ("module:attribute") on 127.0.0.1:``port``."""
    host = "127.0.0.1"
    if kind in ("uvicorn-h11", "uvicorn-httptools"):
        http = kind.removeprefix("uvicorn-")
        return [
            *(sys.executable, "-m", "uvicorn", app),
            *("--host", host, "--port", str(port), "--http", http),
            *("--lifespan", "off", "--no-access-log", "--log-level", "warning"),
        ]
    if kind == "hypercorn":
        # --workers 0: serve in this process, with no supervisor and worker processes.
        return [
            *(sys.executable, "-m", "hypercorn", app),
            *("--bind", f"{host}:{port}", "--workers", "0", "--log-level", "warning"),
        ]
    if kind == "granian":
        return [
            *(sys.executable, "-m", "granian", app, "--interface", "asgi"),
            *("--host", host, "--port", str(port), "--workers", "1", "--http", "1"),
            *("--no-ws", "--log-level", "warning", "--workers-kill-timeout", "3"),
        ]
    raise ValueError(f"unknown server kind {kind!r}; known: {', '.join(SERVER_KINDS)}")


@contextlib.contextmanager
def serve(
    app: str,
    kind: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    startup_timeout: float = 20.0,
    shutdown_timeout: float = 5.0,
) -> Iterator[str]:
    """Serve ``app`` with the server ``kind`` on a free port of 127.0.0.1; yield the base URL.

    Args:
        app: the ASGI application, ``"module:attribute"``, importable from ``cwd``.
        kind: one of :data:`SERVER_KINDS`.
        env: the server's whole environment (default: this process's).
        cwd: the server's working directory (default: this process's).
        startup_timeout: seconds to wait for the server to answer HTTP.
        shutdown_timeout: seconds to wait after SIGTERM before SIGKILL.

    Raises:
        ServerError: the server exited during startup, or did not answer in time.

    Call it from the main thread: the server is told to stop when the thread that started it
    ends (``PR_SET_PDEATHSIG`` follows the parent thread, not the process).
    """
    port = free_port()
    with run_server(
        server_command(kind, app, port),
        port,
        kind,
        env=env,
        cwd=cwd,
        startup_timeout=startup_timeout,
        shutdown_timeout=shutdown_timeout,
    ) as url:
        yield url


@contextlib.contextmanager
def serving(app: str, kind: str = "uvicorn-h11", **options: Any) -> Iterator[str]:
    """``serve(app, kind, cwd=REPO, ...)``, or skip the test when ``kind`` is not installed."""
    if reason := server_unavailable_reason(kind):
        pytest.skip(reason)
    with serve(app, kind, cwd=options.pop("cwd", REPO), **options) as url:
        yield url


@contextlib.contextmanager
def run_server(
    command: Sequence[str],
    port: int,
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    startup_timeout: float = 20.0,
    shutdown_timeout: float = 5.0,
) -> Iterator[str]:
    """Run ``command``, an HTTP server that listens on 127.0.0.1:``port``; yield its base URL.

    What :func:`serve` does for the ASGI servers, for any server (nginx, varnishd in
    interop/test_proxies.py): the same wait until it answers HTTP, and the same stop of its whole
    process group however the block is left. ``name`` labels its errors.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group: one signal reaches its workers
            preexec_fn=_die_with_parent(),
        )
        try:
            _wait_until_serving(process, port, startup_timeout, log, name)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process, shutdown_timeout)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGTERM the child when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # Loaded here, in the parent: the child, forked from a process that may have
        # threads, must only make the one system call.
        prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _wait_until_serving(
    process: subprocess.Popen[bytes], port: int, timeout: float, log: IO[bytes], kind: str
) -> None:
    """Return once the server answers an HTTP request; raise ``ServerError`` otherwise.

    Accepting a connection is not enough: granian and hypercorn listen before the app is
    loaded. Any HTTP response (a 404 included) shows the app is being served.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerError(
                f"{kind} exited with status {process.returncode} during startup:\n{_tail(log)}"
            )
        if _answers_http(port):
            return
        if time.monotonic() > deadline:
            raise ServerError(f"{kind} did not answer on port {port} in {timeout}s:\n{_tail(log)}")
        time.sleep(0.05)


def _answers_http(port: int) -> bool:
    request = b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(request)
            return sock.recv(5) == b"HTTP/"
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the server's process group, SIGKILL it after ``timeout``; reap the leader."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    # Workers that outlived their supervisor still belong to the group: end them too.
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The group id is the leader's pid (start_new_session); it exists while any member does.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-limit:]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed: without these Chromium keeps dialling out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright (its wheel carries the driver; no
    browser download). Skips the test when either is missing, naming what to install."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"chromium is not installed ({CHROMIUM}: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def dumped_headers(path: Path) -> dict[str, str]:
    """The response headers curl wrote with ``-D path``, by lowercase name."""
    lines = path.read_text().splitlines()
    return {
        name.strip().lower(): value.strip()
        for name, sep, value in (line.partition(":") for line in lines)
        if sep
    }


def fetch_raw(
    client: httpx.Client,
    url: str,
    accept: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, bytes]:
    """GET with our own Accept-Encoding (or ``headers``); the body exactly as it came off the
    wire, not decoded by httpx."""
    sent = dict(headers or {})
    if accept is not None:
        sent["Accept-Encoding"] = accept
    with client.stream("GET", url, headers=sent) as response:
        return response, b"".join(response.iter_raw())


CURL = "/usr/bin/curl"


def curl_compressed(url: str, directory: Path, *options: str) -> tuple[dict[str, str], bytes, str]:
    """GET ``url`` with ``curl --compressed`` and ``options``: the headers it dumped, the body it
    decoded and what it printed (``--write-out``). Skips when curl is not installed."""
    if not os.access(CURL, os.X_OK):
        pytest.skip(f"curl is not installed ({CURL})")
    head, body = directory / "head", directory / "body"
    result = subprocess.run(
        [
            *(CURL, "--compressed", "--silent", "--show-error", "--max-time", "20"),
            *(*options, "-D", str(head), "-o", str(body), url),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dumped_headers(head), body.read_bytes(), result.stdout
