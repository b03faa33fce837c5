"""Event loop under load: does the middleware freeze the server, and does it use both cores?

For each middleware, a uvicorn server (``_server.py``, a subprocess on 127.0.0.1, a free port)
serves ``/big`` (1 MiB JSON, compressed as the request asks) and ``/ping`` (4 bytes). K = 1 and
K = 4 client processes (``_client.py``) fetch ``/big`` back to back for a few seconds while one
more pings ``/ping`` every 5 ms. Reported per cell:

- ``/big`` responses per second (all K clients together);
- ping latency p50 / p99 (what any small request on that server waits);
- the share of time the loop was stalled: a probe task in the server sleeps 1 ms in a loop;
  every wake-up more than 5 ms late counts its lateness as stalled time.

Cells are measured in interleaved rounds (every cell once per round, all servers up and idle
but for the one under load), so that a noisy neighbour on the machine hits them all alike;
each cell totals ``Budget.load_s`` seconds of load. Everything stops by itself: each server
has a lifetime, and every process started here is ended here.

Run: ``python -m benchmarks eventloop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._client import Connection
from ._common import Budget, Check, Report, Table, fmt, write_results
from ._server import STALL_S

__all__ = ["CONDITIONS", "run"]

_ROOT = Path(__file__).resolve().parent.parent
PING_INTERVAL_S = 0.005
BROWSER_AE = "gzip, deflate, br, zstd"

# (label, server middleware, coding asked for); the server is started once per middleware.
# "ours-nocache": the same 1 MiB body every request, which the default cache would keep,
# so the cells measure compression.
CONDITIONS: tuple[tuple[str, str, str | None], ...] = (
    ("no middleware", "none", None),
    ("ours", "ours-nocache", "zstd"),
    ("ours", "ours-nocache", "br"),
    ("ours", "ours-nocache", "gzip"),
    ("ours", "ours-nocache", "deflate"),
    ("ours (inline)", "ours-inline", "br"),
    ("ours (inline)", "ours-inline", "gzip"),
    ("Starlette GZip", "starlette-gzip", "gzip"),
    ("starlette-compress", "starlette-compress", "zstd"),
    ("starlette-compress", "starlette-compress", "br"),
    ("starlette-compress", "starlette-compress", "gzip"),
    ("brotli-asgi", "brotli-asgi", "br"),
)
CLIENTS = (1, 4)


class _Worker:
    """A ``_client.py`` process that takes one command at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._client"],
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @property
    def _stdin(self) -> IO[str]:
        assert self.process.stdin is not None
        return self.process.stdin

    def send(self, command: dict[str, Any]) -> None:
        self._stdin.write(json.dumps(command) + "\n")
        self._stdin.flush()

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a client process died")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"client: {result['error']}")
        return result

    def close(self) -> None:
        try:
            self.send({"op": "quit"})
            self._stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


class _Server:
    """A ``_server.py`` process; its port is read from its first line of output."""

    def __init__(
        self,
        middleware: str,
        lifetime_s: float,
        *,
        module: str = "benchmarks._server",
        extra: tuple[str, ...] = (),
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, middleware, str(lifetime_s), *extra],
            cwd=_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"server {middleware!r} did not start: {line!r}")
        self.port = int(line.split()[1])
        deadline = time.monotonic() + 20
        while True:
            try:
                connection = Connection(self.port, timeout=5)
                connection.get("/ping")
                connection.close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (all its threads, user + system)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cell:
    """One (middleware, coding, K), pooled over its rounds."""

    label: str
    coding: str | None
    clients: int
    seconds: float = 0.0
    count: int = 0
    sent: int = 0
    body_bytes: int = 0
    server_cpu: float = 0.0
    idle_ticks: int = 0
    total_ticks: int = 0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    @property
    def idle(self) -> float:
        """Share of the machine's CPU time that nobody used during the cell."""
        return self.idle_ticks / self.total_ticks if self.total_ticks else float("nan")

    @property
    def cores(self) -> float:
        """How many cores the server process kept busy, on average."""
        return self.server_cpu / self.seconds

    @property
    def rps(self) -> float:
        return self.count / self.seconds

    @property
    def mb_out_s(self) -> float:
        return self.sent / self.seconds / 1e6

    @property
    def ping_p50_ms(self) -> float:
        return _percentile(self.latencies, 0.5) * 1e3

    @property
    def ping_p99_ms(self) -> float:
        return _percentile(self.latencies, 0.99) * 1e3

    @property
    def stalled(self) -> float:
        return sum(late for late in self.lags if late > STALL_S) / self.seconds

    @property
    def lag_p99_ms(self) -> float:
        return _percentile(self.lags, 0.99) * 1e3

    @property
    def lag_max_ms(self) -> float:
        return max(self.lags, default=0.0) * 1e3


def _cpu_ticks() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _run_round(server: _Server, workers: list[_Worker], cell: Cell, seconds: float) -> None:
    """Load the server for ``seconds`` and add what happened to ``cell``."""
    ae = cell.coding or BROWSER_AE
    control = Connection(server.port)
    try:
        if not cell.body_bytes:
            _, headers = control.get("/big", ae)
            got = headers.get("content-encoding", "identity")
            if got != (cell.coding or "identity"):
                raise RuntimeError(f"{cell.label}: asked for {cell.coding}, got {got}")
            cell.body_bytes = int(headers["x-body-bytes"])
        start = time.time() + 0.1
        stop = start + seconds
        control.get_body(f"/lag/arm?until={stop + 0.05}")
        cpu_before, ticks_before = server.cpu_seconds(), _cpu_ticks()
        fetchers, pinger = workers[: cell.clients], workers[-1]
        for worker in fetchers:
            worker.send({"op": "fetch", "port": server.port, "path": "/big", "ae": ae,
                         "start": start, "stop": stop})  # fmt: skip
        pinger.send({"op": "ping", "port": server.port, "path": "/ping",
                     "interval": PING_INTERVAL_S, "start": start, "stop": stop})  # fmt: skip
        fetched = [worker.answer() for worker in fetchers]
        cell.latencies += pinger.answer()["latencies"]
        cell.server_cpu += server.cpu_seconds() - cpu_before
        ticks_after = _cpu_ticks()
        cell.idle_ticks += ticks_after[0] - ticks_before[0]
        cell.total_ticks += ticks_after[1] - ticks_before[1]
        cell.lags += json.loads(control.get_body(f"/lag?start={start}&stop={stop}"))
    finally:
        control.close()
    cell.seconds += seconds
    cell.count += sum(int(f["count"]) for f in fetched)
    cell.sent += sum(int(f["bytes"]) for f in fetched)


def measure(
    budget: Budget,
    conditions: tuple[tuple[str, str, str | None], ...] = CONDITIONS,
    clients: tuple[int, ...] = CLIENTS,
) -> list[Cell]:
    """Every cell, measured in interleaved rounds so that noise spreads over all of them.

    All servers run at once (idle ones cost nothing: their probes are disarmed).
    """
    rounds = 2 if budget.quick else 3
    per_round = budget.load_s / rounds
    cells = [Cell(label, coding, k) for label, _, coding in conditions for k in clients]
    middleware_of = {label: middleware for label, middleware, _ in conditions}
    lifetime = 60 + len(cells) * rounds * (per_round + 1.0)
    servers: dict[str, _Server] = {}
    workers: list[_Worker] = []
    try:
        for middleware in dict.fromkeys(m for _, m, _ in conditions):
            servers[middleware] = _Server(middleware, lifetime)
        workers = [_Worker() for _ in range(max(clients) + 1)]
        for index in range(rounds):
            for cell in cells:
                _run_round(servers[middleware_of[cell.label]], workers, cell, per_round)
            print(f"  event loop: round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        for worker in workers:
            worker.close()
        for server in servers.values():
            server.close()
    return cells


def _find(cells: list[Cell], label: str, coding: str | None, k: int) -> Cell | None:
    for cell in cells:
        if cell.label == label and cell.coding == coding and cell.clients == k:
            return cell
    return None


def tables(cells: list[Cell]) -> list[Table]:
    table = Table(
        "uvicorn, 1 MiB JSON on /big, K clients back to back + 1 pinger (every 5 ms)",
        ["middleware", "coding", "K", "/big resp/s", "body B", "server cores", "machine idle",
         "ping p50 ms",
         "ping p99 ms", "p99 vs none", "loop stalled", "lag p99 ms", "lag max ms"],
    )  # fmt: skip
    for cell in cells:
        base = _find(cells, "no middleware", None, cell.clients)
        versus = cell.ping_p99_ms / base.ping_p99_ms if base else float("nan")
        table.add(
            cell.label,
            cell.coding or "-",
            str(cell.clients),
            fmt(cell.rps, 1),
            fmt(cell.body_bytes),
            fmt(cell.cores, 2),
            f"{cell.idle:.0%}",
            fmt(cell.ping_p50_ms, 2),
            fmt(cell.ping_p99_ms, 2),
            fmt(versus, 2),
            f"{cell.stalled:.0%}",
            fmt(cell.lag_p99_ms, 1),
            fmt(cell.lag_max_ms, 1),
        )
    table.notes += [
        "loop stalled = time the lag probe woke up more than "
        f"{STALL_S * 1e3:.0f} ms late, summed, over the cell's duration.",
        "Peers at our levels: Starlette GZip level 6 (offloads chunks >= 128 KiB), "
        "starlette-compress zstd 3 / br 4 / gzip 6, brotli-asgi quality 4 (both inline).",
        "ours (inline) = thread_min_size out of reach: everything compressed on the loop.",
        "server cores = the server process's CPU time (all threads) / the load's duration: "
        "how much of the machine's cores it put to work. machine idle = CPU time nobody used "
        "(/proc/stat): near 0% means the cores were saturated, by this cell's processes (the "
        "server, K fetchers, the pinger) or by anything else running on the machine.",
    ]
    ratios = Table(
        "K = 4: ours against the peers (same coding, same run)",
        ["coding", "peer", "ours resp/s", "peer resp/s", "ours / peer", "ours ping p99 ms",
         "peer ping p99 ms"],
    )  # fmt: skip
    for coding in ("zstd", "br", "gzip"):
        ours = _find(cells, "ours", coding, 4)
        if ours is None:
            continue
        for label in ("Starlette GZip", "starlette-compress", "brotli-asgi"):
            peer = _find(cells, label, coding, 4)
            if peer is None:
                continue
            ratios.add(coding, label, fmt(ours.rps, 1), fmt(peer.rps, 1),
                       fmt(ours.rps / peer.rps, 2), fmt(ours.ping_p99_ms, 2),
                       fmt(peer.ping_p99_ms, 2))  # fmt: skip
    return [table, ratios]


def checks(cells: list[Cell]) -> list[Check]:
    result: list[Check] = []
    none = _find(cells, "no middleware", None, 4)
    starlette = _find(cells, "Starlette GZip", "gzip", 4)
    for coding in ("zstd", "br", "gzip", "deflate"):
        ours = _find(cells, "ours", coding, 4)
        if ours is None or none is None or starlette is None:
            continue
        result.append(
            Check(
                f"K=4 {coding}: ping p99 <= 2x no-middleware and < Starlette GZip",
                f"{ours.ping_p99_ms:.1f} ms (none {none.ping_p99_ms:.1f}, "
                f"Starlette {starlette.ping_p99_ms:.1f})",
                ours.ping_p99_ms <= 2 * none.ping_p99_ms
                and ours.ping_p99_ms < starlette.ping_p99_ms,
            )
        )
    for coding, label, factor in (
        ("gzip", "Starlette GZip", 1.0),
        ("br", "starlette-compress", 1.6),
        ("zstd", "starlette-compress", 1.2),
    ):
        ours, peer = _find(cells, "ours", coding, 4), _find(cells, label, coding, 4)
        if ours is None or peer is None:
            continue
        result.append(
            Check(
                f"K=4 {coding}: /big resp/s >= {factor}x {label}",
                f"{ours.rps:.1f} vs {peer.rps:.1f} = {ours.rps / peer.rps:.2f}x "
                f"(server cores {ours.cores:.2f} vs {peer.cores:.2f}; machine idle "
                f"{ours.idle:.0%} vs {peer.idle:.0%})",
                ours.rps >= factor * peer.rps,
            )
        )
    return result


def run(budget: Budget) -> Report:
    cells = measure(budget)
    report = Report("eventloop", tables(cells), checks(cells))
    k4 = [cell for cell in cells if cell.clients == 4]
    report.charts = {
        "Event loop, K=4: /big responses per second (higher is better)": {
            f"{c.label} {c.coding or ''}".strip(): c.rps for c in k4
        },
        "Event loop, K=4: ping p99 in ms (lower is better)": {
            f"{c.label} {c.coding or ''}".strip(): c.ping_p99_ms for c in k4
        },
    }
    write_results("eventloop", "Event loop under load (uvicorn on 127.0.0.1)", report.tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())


ZSTD_CONDITIONS: tuple[tuple[str, str, str | None], ...] = (
    ("no middleware", "none", None),
    ("ours", "ours-nocache", "zstd"),
    ("starlette-compress", "starlette-compress", "zstd"),
)
"""Issue 18: zstd under load, ours without its cache (``cache=None``), as one run."""


def run_zstd(budget: Budget) -> Report:
    """K = 4 on the 1 MiB JSON, zstd, ours (no cache) against starlette-compress.

    Measured here, next to the cells it shares; ``eventloop_zstd.py`` writes the results."""
    cells = measure(budget, ZSTD_CONDITIONS, (4,))
    none = _find(cells, "no middleware", None, 4)
    ours, peer = _find(cells, "ours", "zstd", 4), _find(cells, "starlette-compress", "zstd", 4)
    assert none is not None and ours is not None and peer is not None
    result = [
        Check(
            "K=4 zstd, cache=None: /big resp/s >= 1.2x starlette-compress",
            f"{ours.rps:.1f} vs {peer.rps:.1f} = {ours.rps / peer.rps:.2f}x (server cores "
            f"{ours.cores:.2f} vs {peer.cores:.2f})",
            ours.rps >= 1.2 * peer.rps,
        ),
        Check(
            "K=4 zstd, cache=None: ping p99 <= 2x no middleware",
            f"{ours.ping_p99_ms:.2f} ms vs none {none.ping_p99_ms:.2f} ms "
            f"(starlette-compress {peer.ping_p99_ms:.2f})",
            ours.ping_p99_ms <= 2 * none.ping_p99_ms,
        ),
    ]
    return Report("eventloop_zstd", tables(cells)[:1], result)
