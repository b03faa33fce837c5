"""A realistic mix under uvicorn: wire bytes against the ideal, server CPU, a pinger's p99.

Eleven routes of a Starlette app (HTML pages that carry a per-request token, paginated JSON,
a catalog JSON that every request repeats, CSV and NDJSON exports streamed row by row, a 422
JSON error, LLM tokens as a ``text/plain`` stream, server-sent events, and a JS and a CSS file
from ``StaticFiles``) are fetched in a fixed order, a fixed number of requests in all, by 8
client processes at once, each with Chromium's ``Accept-Encoding: gzip, deflate, br, zstd``;
one more connection pings ``/ping`` every 5 ms. One uvicorn server per middleware (none, ours
at its defaults, Starlette GZip, starlette-compress); every server gets the same requests.

Reported per middleware:

- wire bytes: the response bodies as sent (Content-Length, or the chunks' payloads), against
  the ideal: every body compressed whole at brotli quality 11, computed here from the same
  body builders the server uses;
- server CPU seconds per 1,000 requests: ``utime + stime`` of the uvicorn process
  (``/proc/<pid>/stat``, all its threads) over the run;
- ping p50 / p99 of the pinger while the mix runs.

The static files get precompressed siblings (``python -m asgi_compress precompress``) in a
temporary directory, as a deployment would build them; only ours serves siblings.

Run: ``python -m benchmarks mix``. Only 127.0.0.1 is contacted; everything stops by itself.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ._client import Connection
from ._common import Budget, Check, Report, Table, fmt, rotated, write_results
from ._mix_bodies import (
    ROUTES,
    body_of,
    csv_pieces,
    error_body,
    ideal_key,
    ideal_size,
    llm_tokens,
    ndjson_lines,
    orders_page,
    page,
    path_of,
    sse_feed,
    static_files,
)  # fmt: skip
from ._server import ASGIApp
from .eventloop import BROWSER_AE, _percentile, _Server, _Worker
from .payloads import json_api_response

__all__ = ["ROUTES", "body_of", "run"]

CLIENTS = 8
PING_INTERVAL_S = 0.005
MIDDLEWARES = (
    ("no middleware", "none"),
    ("ours (defaults)", "ours"),
    ("Starlette GZip", "starlette-gzip"),
    ("starlette-compress", "starlette-compress"),
)


# -- the server ------------------------------------------------------------------------------


def make_app(static_dir: str) -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def pieces(items: list[bytes], *, pause: bool) -> AsyncIterator[bytes]:
        for item in items:
            yield item
            if pause:  # a token or an event comes when it is ready: the loop gets a turn
                await asyncio.sleep(0)

    async def home(request: Request) -> Response:
        name = request.path_params["name"]
        return Response(page(name, int(request.query_params["n"])), media_type="text/html")

    async def orders(request: Request) -> Response:
        body = orders_page(int(request.query_params["page"]))
        return Response(body, media_type="application/json")

    async def catalog(request: Request) -> Response:
        return Response(json_api_response(), media_type="application/json")

    async def export_csv(request: Request) -> Response:
        # text/plain: text/csv is not in every middleware's default list of types.
        return StreamingResponse(pieces(csv_pieces(), pause=False), media_type="text/plain")

    async def export_ndjson(request: Request) -> Response:
        lines = pieces(ndjson_lines(), pause=False)
        return StreamingResponse(lines, media_type="application/x-ndjson")

    async def items(request: Request) -> Response:
        return Response(error_body(), status_code=422, media_type="application/json")

    async def llm(request: Request) -> Response:
        return StreamingResponse(pieces(llm_tokens(), pause=True), media_type="text/plain")

    async def events(request: Request) -> Response:
        feed = pieces(sse_feed(), pause=True)
        return StreamingResponse(feed, media_type="text/event-stream")

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    app: ASGIApp = Starlette(
        routes=[
            Route("/page/{name}", home),
            Route("/api/orders", orders),
            Route("/api/catalog", catalog),
            Route("/export.csv", export_csv),
            Route("/export.ndjson", export_ndjson),
            Route("/api/items", items),
            Route("/llm", llm),
            Route("/events", events),
            Route("/ping", ping),
            Mount("/static", StaticFiles(directory=static_dir)),
        ]  # fmt: skip
    )
    return app


def serve(name: str, lifetime: float, static_dir: str) -> None:
    import uvicorn

    from ._server import _serve, middleware

    app = middleware(name)(make_app(static_dir))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    asyncio.run(_serve(uvicorn.Server(config), sock, lifetime))


# -- the load --------------------------------------------------------------------------------


@dataclass
class Run:
    """One middleware's figures, pooled over its rounds."""

    label: str
    requests: int = 0
    seconds: float = 0.0
    wire: int = 0
    ideal: int = 0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    route_wire: dict[str, int] = field(default_factory=dict)
    route_ideal: dict[str, int] = field(default_factory=dict)
    codings: dict[str, set[str]] = field(default_factory=dict)

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu / self.requests * 1000

    @property
    def ping_p99_ms(self) -> float:
        return _percentile(self.latencies, 0.99) * 1e3


def _pinger(port: int, stop: threading.Event, latencies: list[float]) -> None:
    connection = Connection(port)
    try:
        tick = time.perf_counter()
        while not stop.is_set():
            began = time.perf_counter()
            connection.get("/ping")
            latencies.append(time.perf_counter() - began)
            tick += PING_INTERVAL_S
            time.sleep(max(0.0, tick - time.perf_counter()))
    finally:
        connection.close()


def _run_once(server: _Server, workers: list[_Worker], paths: list[str], run: Run) -> None:
    stop = threading.Event()
    latencies: list[float] = []
    pinger = threading.Thread(target=_pinger, args=(server.port, stop, latencies), daemon=True)
    share = [paths[w :: len(workers)] for w in range(len(workers))]
    cpu_before, began = server.cpu_seconds(), time.perf_counter()
    pinger.start()
    for worker, mine in zip(workers, share, strict=True):
        worker.send({"op": "mix", "port": server.port, "paths": mine, "ae": BROWSER_AE})
    answers = [worker.answer() for worker in workers]
    run.seconds += time.perf_counter() - began
    run.cpu += server.cpu_seconds() - cpu_before
    stop.set()
    pinger.join()
    run.latencies += latencies
    for mine, answer in zip(share, answers, strict=True):
        for path, size, coding, status in zip(
            mine, answer["sizes"], answer["codings"], answer["statuses"], strict=True
        ):
            route = path.split("?")[0]
            if status != (422 if route == "/api/items" else 200):
                raise RuntimeError(f"{run.label}: {path} answered {status}")
            run.requests += 1
            run.wire += size
            run.ideal += ideal_size(path)
            run.route_wire[route] = run.route_wire.get(route, 0) + size
            run.route_ideal[route] = run.route_ideal.get(route, 0) + ideal_size(path)
            run.codings.setdefault(route, set()).add(coding)


def measure(budget: Budget) -> tuple[list[Run], float]:
    """Every middleware's run over the same request list, in ``rounds`` interleaved rounds."""
    total = 1100 if budget.quick else 2200
    rounds = 1 if budget.quick else 2
    paths = [path_of(i) for i in range(total // rounds)]
    began = time.perf_counter()
    for path in dict.fromkeys(map(ideal_key, paths)):
        ideal_size(path)
    ideal_s = time.perf_counter() - began
    runs = {label: Run(label) for label, _ in MIDDLEWARES}
    servers: dict[str, _Server] = {}
    workers: list[_Worker] = []
    with tempfile.TemporaryDirectory(prefix="mix-static-") as static_dir:
        from asgi_compress.static.precompress import precompress

        for name, data in static_files().items():
            (Path(static_dir) / name).write_bytes(data)
        precompress(static_dir)
        try:
            for label, name in MIDDLEWARES:
                servers[label] = _Server(name, 300, module="benchmarks.mix", extra=(static_dir,))
            workers = [_Worker() for _ in range(CLIENTS)]
            for index in range(rounds):
                for label in rotated(list(servers), index):
                    _run_once(servers[label], workers, paths, runs[label])
                print(f"  mix: round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
        finally:
            for worker in workers:
                worker.close()
            for server in servers.values():
                server.close()
    return list(runs.values()), ideal_s


def tables(runs: list[Run], ideal_s: float) -> list[Table]:
    summary = Table(
        f"The mix: {runs[0].requests:,} requests over {len(ROUTES)} routes, {CLIENTS} clients, "
        f"AE: {BROWSER_AE}",
        [
            "middleware",
            "wire bytes",
            "vs ideal (br-11)",
            "server CPU s / 1k req",
            "wall s",
            "ping p50 ms",
            "ping p99 ms",
        ],  # fmt: skip
    )
    for run in runs:
        summary.add(
            run.label, fmt(run.wire), f"{run.wire / run.ideal:.2f}x", f"{run.cpu_per_1k:.2f}",
            f"{run.seconds:.1f}", f"{_percentile(run.latencies, 0.5) * 1e3:.2f}",
            f"{run.ping_p99_ms:.2f}",
        )  # fmt: skip
    summary.notes = [
        f"ideal = every body compressed whole at brotli 11: {fmt(runs[0].ideal)} bytes "
        f"(computed in {ideal_s:.1f} s); the pages' per-request token is counted once per page.",
        "server CPU = utime + stime of the uvicorn process (/proc/<pid>/stat) over the run.",
        "Peers at the levels of benchmarks/_server.py: Starlette GZip 6; starlette-compress "
        "zstd 3 / br 4 / gzip 6. Ours at its defaults: the in-process cache (bodies seen twice "
        "are promoted) and precompressed siblings for StaticFiles (br 11 / zstd 19 / gzip 9).",
    ]
    routes = Table(
        "Wire bytes per route (vs ideal; coding sent)",
        ["route", "ideal", *[run.label for run in runs]],
    )
    for route in ROUTES:
        ideal = runs[0].route_ideal[route]
        cells = [
            f"{fmt(run.route_wire[route])} ({run.route_wire[route] / ideal:.2f}x; "
            f"{'/'.join(sorted(run.codings[route]))})"
            for run in runs
        ]
        routes.add(route, fmt(ideal), *cells)
    return [summary, routes]


def checks(runs: list[Run]) -> list[Check]:
    by = {run.label: run for run in runs}
    ours, none = by["ours (defaults)"], by["no middleware"]
    peers = [by["Starlette GZip"], by["starlette-compress"]]
    lowest = min(peers, key=lambda run: run.cpu_per_1k)
    ratio = ours.wire / ours.ideal
    return [
        Check("mix: wire bytes <= 1.15x ideal (br-11)", f"{ratio:.2f}x", ratio <= 1.15),
        Check(
            "mix: server CPU / 1k requests <= lowest peer's",
            f"{ours.cpu_per_1k:.2f} s vs {lowest.label} {lowest.cpu_per_1k:.2f} s",
            ours.cpu_per_1k <= lowest.cpu_per_1k,
        ),
        Check(
            "mix: ping p99 <= no middleware's",
            f"{ours.ping_p99_ms:.2f} ms vs {none.ping_p99_ms:.2f} ms",
            ours.ping_p99_ms <= none.ping_p99_ms,
        ),
    ]


def run(budget: Budget) -> Report:
    runs, ideal_s = measure(budget)
    report = Report("mix", tables(runs, ideal_s), checks(runs))
    write_results("mix", "A realistic mix under uvicorn (issue 18)", report.tables)
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1:
        serve(sys.argv[1], float(sys.argv[2]), sys.argv[3])
    else:
        run(Budget.from_env())
