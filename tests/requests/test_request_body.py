"""Compressed request bodies (``decompress_requests``): what the app reads, what clients get.

Wire bodies are made with independent encoders (stdlib ``gzip``/``zlib``, ``brotli``, the zstd
module), never with asgi_compress. In process, a raw ASGI app records every message its
``receive()`` returns; under a real uvicorn, a FastAPI app reads uploads sent by httpx and
curl, and decompression bombs are answered 413 while other requests are served.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import brotli
import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asgi_compress import CompressMiddleware
from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from asgi_compress.settings import DEFAULT_REQUEST_MAX_SIZE, Settings
from tests.apps.upload_app import SERVER_MAX_SIZE
from tests.harness import ENCODINGS, make_scope, text
from tests.harness.servers import serving

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MiB = 1024 * 1024

ENCODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


def encode(data: bytes, codings: Sequence[str]) -> bytes:
    """Apply ``codings`` in order, as ``Content-Encoding: a, b`` says they were applied."""
    for coding in codings:
        data = ENCODE[coding](data)
    return data


def zeros_pieces(coding: str, size: int) -> list[bytes]:
    """``size`` zero bytes encoded one MiB at a time, each piece flushed: a bomb whose pieces
    each decode to one MiB, made without holding the plain body."""
    block = bytes(MiB)
    count = size // MiB
    if coding == "gzip":
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        pieces = [z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH) for _ in range(count)]
        return [*pieces[:-1], pieces[-1] + z.flush()]
    if coding == "br":
        b = brotli.Compressor(quality=5)
        pieces = [b.process(block) + b.flush() for _ in range(count)]
        return [*pieces[:-1], pieces[-1] + b.finish()]
    c = zstd.ZstdCompressor(level=3)
    pieces = [c.compress(block, zstd.ZstdCompressor.FLUSH_BLOCK) for _ in range(count)]
    return [*pieces[:-1], pieces[-1] + c.flush()]


def zeros_stream(coding: str, size: int) -> bytes:
    return b"".join(zeros_pieces(coding, size))


def nested_bomb(size: int) -> list[bytes]:
    """``Content-Encoding: gzip, br``: the gzip bomb's pieces, each br-flushed."""
    b = brotli.Compressor(quality=5)
    pieces = [b.process(piece) + b.flush() for piece in zeros_pieces("gzip", size)]
    return [*pieces[:-1], pieces[-1] + b.finish()]


def huge_window_zstd() -> bytes:
    """A valid zstd frame whose header asks for a 128 MiB window (RFC 9659 allows 8 MiB)."""
    c = zstd.ZstdCompressor(
        options={
            zstd.CompressionParameter.window_log: 27,
            zstd.CompressionParameter.compression_level: 3,
        }
    )
    return c.compress(bytes(1000)) + c.flush()


# -- the in-process harness -------------------------------------------------------------------


@dataclass
class Exchange:
    """One request: what the app's ``receive()`` returned, and what the server was sent."""

    received: list[Message] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    app_scope: Scope | None = None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.received if m["type"] == "http.request")

    @property
    def completed(self) -> bool:
        """The app was handed the end of the body (``more_body: False``)."""
        return any(
            m["type"] == "http.request" and not m.get("more_body", False) for m in self.received
        )

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.sent
        return int(starts[0]["status"])

    def header(self, name: bytes) -> bytes | None:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        values = [v for n, v in start["headers"] if n.lower() == name]
        return b", ".join(values) if values else None

    @property
    def response_body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def reading_app(exchange: Exchange) -> ASGIApp:
    """Reads the whole body as frameworks do, then answers 200 with its length."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        exchange.app_scope = scope
        while True:
            message = await receive()
            exchange.received.append(message)
            if message["type"] != "http.request":
                return  # the client is gone
            if not message.get("more_body", False):
                break
        size = str(len(exchange.body)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": size})

    return app


def wire_messages(wire: bytes, cuts: Sequence[int] = ()) -> list[Message]:
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    pieces = [wire[a:b] for a, b in zip(points, points[1:], strict=False)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


async def exchange(
    wire: bytes | list[Message],
    content_encoding: str | None,
    *,
    app: Callable[[Exchange], ASGIApp] = reading_app,
    headers: Sequence[tuple[str, str]] = (),
    **options: Any,
) -> Exchange:
    """Send ``wire`` (one message, or the messages given) through the middleware to ``app``."""
    record = Exchange()
    messages = wire_messages(wire) if isinstance(wire, bytes) else list(wire)
    all_headers = [*headers, ("content-length", str(sum(len(m["body"]) for m in messages)))]
    if content_encoding is not None:
        all_headers.append(("content-encoding", content_encoding))
    scope = make_scope(method="POST", headers=all_headers)
    options.setdefault("decompress_requests", True)
    await deliver(CompressMiddleware(app(record), **options), scope, messages, record)
    return record


async def deliver(app: Any, scope: Scope, messages: list[Message], record: Exchange) -> None:
    """Call ``app`` as a server would: ``messages`` from ``receive()``, then nothing more
    until the response is complete, then ``http.disconnect`` (ASGI HTTP spec; Quart 0.23
    waits for it); what it sends goes to ``record.sent``. Never hangs: ``fail_after``."""
    complete = anyio.Event()

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        record.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()

    with anyio.fail_after(10):
        await app(scope, receive, send)


# -- round trips ------------------------------------------------------------------------------

bodies = st.one_of(
    st.binary(max_size=3000),
    # Long, repetitive bodies: many 64 KiB steps per wire chunk.
    st.builds(lambda unit, n: unit * n, st.binary(min_size=1, max_size=300), st.integers(1, 900)),
)


@settings(
    max_examples=int(os.environ.get("ASGI_COMPRESS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    body=bodies,
    codings=st.lists(st.sampled_from(ENCODINGS), min_size=1, max_size=2),
    pieces=st.integers(1, 3),
    cuts=st.lists(st.integers(0, 10**6), max_size=12),
    on_thread=st.booleans(),
)
@example(
    body=bytes(range(256)) * 1200,  # 300 KiB: several 64 KiB steps per layer
    codings=["gzip", "br"],
    pieces=2,
    cuts=[100, 5000],
    on_thread=True,
)
@example(body=text(400_000), codings=["zstd", "deflate"], pieces=3, cuts=[], on_thread=False)
@example(body=text(200_000), codings=["br"], pieces=1, cuts=[1, 2, 3], on_thread=False)
async def test_app_reads_exactly_the_original_body(
    body: bytes, codings: list[str], pieces: int, cuts: list[int], on_thread: bool
) -> None:
    # gzip members and zstd frames may follow one another (RFC 1952 2.2, RFC 8878 3).
    first = codings[0]
    if first in ("gzip", "zstd") and pieces > 1 and body:
        step = -(-len(body) // pieces)
        parts = [body[i : i + step] for i in range(0, len(body), step)]
        wire = encode(b"".join(ENCODE[first](p) for p in parts), codings[1:])
    else:
        wire = encode(body, codings)
    options: dict[str, Any] = {"thread_min_size": 0} if on_thread else {}
    got = await exchange(wire_messages(wire, cuts), ", ".join(codings), **options)

    assert got.body == body
    assert all(m["type"] == "http.request" for m in got.received)
    flags = [m.get("more_body", False) for m in got.received]
    assert flags[-1] is False and all(flags[:-1])
    assert got.status == 200 and got.response_body == str(len(body)).encode()
    assert got.app_scope is not None
    names = {name for name, _ in got.app_scope["headers"]}
    assert b"content-encoding" not in names and b"content-length" not in names


@pytest.mark.parametrize(
    ("header", "wire", "expected"),
    [
        pytest.param("gzip", b"", b"", id="empty-body"),
        pytest.param("gzip, br", b"", b"", id="empty-body-stacked"),
        pytest.param("br, gzip", ENCODE["gzip"](b""), b"", id="empty-inner-layer"),
        pytest.param("GZIP", ENCODE["gzip"](b"upper"), b"upper", id="case-insensitive"),
        pytest.param("x-gzip", ENCODE["gzip"](b"alias"), b"alias", id="x-gzip"),
        pytest.param("identity", b"plain", b"plain", id="identity-only"),
        pytest.param("identity, gzip", ENCODE["gzip"](b"x"), b"x", id="identity-skipped"),
        pytest.param(
            "gzip", ENCODE["gzip"](b"one ") + ENCODE["gzip"](b"two"), b"one two", id="gzip-members"
        ),
        pytest.param(
            "zstd",
            b"\x50\x2a\x4d\x18\x04\x00\x00\x00pad!" + zstd.compress(b"a") + zstd.compress(b"b"),
            b"ab",
            id="zstd-skippable-and-frames",
        ),
    ],
)
async def test_defined_answers_that_reach_the_app(
    header: str, wire: bytes, expected: bytes
) -> None:
    got = await exchange(wire, header)
    assert got.status == 200
    assert got.completed and got.body == expected


async def test_option_off_leaves_the_body_and_headers_alone() -> None:
    wire = ENCODE["gzip"](b"left alone")
    got = await exchange(wire, "gzip", decompress_requests=False)
    assert got.body == wire
    assert got.app_scope is not None
    assert (b"content-encoding", b"gzip") in got.app_scope["headers"]


async def test_decoding_does_not_depend_on_accept_encoding() -> None:
    wire = ENCODE["br"](b"no accept-encoding")
    got = await exchange(wire, "br", headers=[("accept-encoding", "gzip")])
    assert got.body == b"no accept-encoding"
    assert got.header(b"vary") == b"Accept-Encoding"  # the response side still ran


# -- refusals ---------------------------------------------------------------------------------

_random = random.Random(13)
NOISE = _random.randbytes(200_000)  # incompressible
JSONISH = json.dumps([{"id": i, "name": f"item {i}"} for i in range(3000)]).encode()
GZ = ENCODE["gzip"](JSONISH)
CORRUPT_GZ = GZ[:40] + bytes(b ^ 0x55 for b in GZ[40:80]) + GZ[80:]


@pytest.mark.parametrize(
    ("header", "wire", "status", "options"),
    [
        pytest.param("gzip", CORRUPT_GZ, 400, {}, id="corrupt-gzip"),
        pytest.param("gzip", GZ[:-6], 400, {}, id="truncated-gzip"),
        pytest.param("gzip", GZ + b"trailing", 400, {}, id="gzip-trailing-garbage"),
        pytest.param("gzip", GZ + bytes(8), 400, {}, id="gzip-zero-padding"),
        pytest.param("deflate", zlib.compress(JSONISH)[2:], 400, {}, id="raw-deflate"),
        pytest.param("deflate", zlib.compress(JSONISH) + b"x", 400, {}, id="deflate-trailing"),
        pytest.param("br", ENCODE["br"](JSONISH) + b"x", 400, {}, id="br-trailing"),
        pytest.param("br", ENCODE["br"](JSONISH)[:-3], 400, {}, id="truncated-br"),
        pytest.param("zstd", zstd.compress(JSONISH)[:-4], 400, {}, id="truncated-zstd"),
        pytest.param("zstd", zstd.compress(JSONISH) + b"junk", 400, {}, id="zstd-trailing"),
        pytest.param("gzip", b"not gzip at all", 400, {}, id="not-gzip"),
        pytest.param("zstd", huge_window_zstd(), 413, {}, id="zstd-window-128MiB"),
        pytest.param(
            "gzip", ENCODE["gzip"](NOISE), 413, {"request_max_size": 100_000}, id="max-size"
        ),
        pytest.param(
            "br, gzip",
            encode(NOISE, ["br", "gzip"]),
            413,
            {"request_max_size": 100_000},
            id="max-size-stacked",
        ),
        pytest.param("gzip", zeros_stream("gzip", 4 * MiB), 413, {}, id="ratio-gzip"),
        pytest.param("zstd", zeros_stream("zstd", 4 * MiB), 413, {}, id="ratio-zstd"),
    ],
)
async def test_bad_bodies_are_answered_before_the_app_sees_an_end(
    header: str, wire: bytes, status: int, options: dict[str, Any]
) -> None:
    for cuts in ([], [len(wire) // 2], list(range(0, len(wire), 97))):
        got = await exchange(wire_messages(wire, cuts), header, **options)
        assert got.status == status
        assert got.header(b"content-type") == b"text/plain; charset=utf-8"
        assert not got.completed, "the app saw the end of a bad body"
        assert got.received[-1] == {"type": "http.disconnect"}
        assert len(got.body) <= options.get("request_max_size", DEFAULT_REQUEST_MAX_SIZE)


@pytest.mark.parametrize(
    ("limit", "status"),
    [
        pytest.param(100_000, 200, id="exactly-the-limit"),
        pytest.param(99_999, 413, id="one-byte-over"),
    ],
)
async def test_the_size_limit_is_exact(limit: int, status: int) -> None:
    body = NOISE[:100_000]
    got = await exchange(
        wire_messages(ENCODE["gzip"](body), [5000]), "gzip", request_max_size=limit
    )
    assert got.status == status
    assert got.completed == (status == 200)
    assert len(got.body) <= limit
    if status == 200:
        assert got.body == body


async def test_the_app_gets_the_other_headers_but_not_those_of_the_coded_bytes() -> None:
    headers = [
        ("content-type", "application/json"),
        ("content-digest", "sha-256=:AAAA:"),
        ("repr-digest", "sha-256=:BBBB:"),
        ("x-request-id", "42"),
    ]
    got = await exchange(ENCODE["zstd"](b"{}"), "zstd", headers=headers)
    assert got.app_scope is not None
    assert got.app_scope["headers"] == [
        (b"content-type", b"application/json"),
        (b"x-request-id", b"42"),
    ]


async def test_ratio_limit_off_lets_a_compressible_body_through() -> None:
    got = await exchange(zeros_stream("gzip", 4 * MiB), "gzip", request_max_ratio=0)
    assert got.status == 200 and got.body == bytes(4 * MiB)


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        pytest.param("compress", b"'compress'", id="unknown"),
        pytest.param("gzip, snappy", b"'snappy'", id="unknown-stacked"),
        pytest.param("gzip, gzip, gzip", b"more than 2", id="too-many"),
    ],
)
async def test_unsupported_codings_are_answered_415_without_running_the_app(
    header: str, detail: bytes
) -> None:
    got = await exchange(ENCODE["gzip"](b"x"), header)
    assert got.status == 415
    assert got.header(b"accept-encoding") == b"zstd, br, gzip, deflate"  # RFC 9110 12.5.3
    assert detail in got.response_body
    assert got.app_scope is None


def responding_first_app(exchange: Exchange) -> ASGIApp:
    """Starts its response, then reads the body and keeps sending whatever it hears."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            exchange.received.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send({"type": "http.response.body", "body": b"done"})

    return app


async def test_a_body_failing_after_the_response_started_aborts_it() -> None:
    from asgi_compress.requests._body import BrokenRequestBody

    with pytest.raises(BrokenRequestBody):
        await exchange(CORRUPT_GZ, "gzip", app=responding_first_app)


def raising_app(exchange: Exchange) -> ASGIApp:
    """Raises on http.disconnect, as Starlette's Request.stream() does (ClientDisconnect)."""
    inner = reading_app(exchange)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await inner(scope, receive, send)
        if exchange.received[-1]["type"] == "http.disconnect":
            await send({"type": "http.response.start", "status": 500, "headers": []})
            raise OSError("client disconnected")

    return app


async def test_the_app_reacting_to_a_refused_body_does_not_spoil_the_answer() -> None:
    got = await exchange(CORRUPT_GZ, "gzip", app=raising_app)
    assert got.status == 400  # the app's 500 was dropped and its exception not raised


async def test_other_requests_are_served_while_a_bomb_is_decoded() -> None:
    """Order, not time: a plain request that arrives with a bomb finishes first."""
    events: list[str] = []
    bomb = zeros_stream("gzip", 8 * MiB)

    async def run_bomb() -> None:
        got = await exchange(bomb, "gzip", request_max_ratio=0, request_max_size=4 * MiB)
        events.append(f"bomb {got.status}")

    async def run_plain() -> None:
        got = await exchange(ENCODE["gzip"](b"small"), "gzip")
        events.append(f"plain {got.status}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_bomb)
        await anyio.lowlevel.checkpoint()  # the bomb is being decoded first
        tg.start_soon(run_plain)
    assert events == ["plain 200", "bomb 413"]


# -- settings and the Quart extension ----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        pytest.param({"decompress_requests": 1}, TypeError, "decompress_requests", id="not-bool"),
        pytest.param({"request_max_size": 0}, ValueError, "request_max_size", id="size-0"),
        pytest.param({"request_max_ratio": -1}, ValueError, "request_max_ratio", id="ratio<0"),
        pytest.param({"request_max_size": "1M"}, TypeError, "request_max_size", id="size-str"),
    ],
)
def test_bad_request_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        Settings.from_options(**options)
    with pytest.raises(error, match="COMPRESS_" + name.upper()):
        Settings.from_config({"COMPRESS_" + k.upper(): v for k, v in options.items()})


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Quart runs on asyncio only
async def test_quart_extension_decodes_with_compress_decompress_requests() -> None:
    from quart import Quart, request

    from asgi_compress import Compress

    app = Quart(__name__)
    app.config["COMPRESS_DECOMPRESS_REQUESTS"] = True
    app.config["COMPRESS_REQUEST_MAX_SIZE"] = 50_000
    Compress(app)

    @app.post("/items")
    async def items() -> dict[str, Any]:
        payload = await request.get_json()
        return {"count": len(payload), "encoding": request.headers.get("Content-Encoding")}

    plain = json.dumps(list(range(1000))).encode()

    async def call(wire: bytes) -> Exchange:
        record = Exchange()
        scope = make_scope(
            method="POST",
            path="/items",
            headers=[("content-type", "application/json"), ("content-encoding", "gzip")],
        )
        await deliver(app, scope, wire_messages(wire), record)
        return record

    ok = await call(ENCODE["gzip"](plain))
    assert ok.status == 200
    assert json.loads(ok.response_body) == {"count": 1000, "encoding": None}
    too_big = await call(ENCODE["gzip"](NOISE))
    assert too_big.status == 413


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_quart_leaves_coded_bodies_alone_by_default() -> None:
    from quart import Quart, request

    from asgi_compress import Compress

    app = Quart(__name__)
    Compress(app)
    assert app.config["COMPRESS_DECOMPRESS_REQUESTS"] is False
    assert app.config["COMPRESS_REQUEST_MAX_SIZE"] == DEFAULT_REQUEST_MAX_SIZE

    @app.post("/raw")
    async def raw() -> bytes:
        assert request.headers.get("Content-Encoding") == "gzip"
        data = await request.get_data(as_text=False)
        assert isinstance(data, bytes)
        return data

    wire = ENCODE["gzip"](b"still coded")
    client = app.test_client()
    response = await client.post("/raw", data=wire, headers={"Content-Encoding": "gzip"})
    assert await response.get_data(as_text=False) == wire


# -- under a real uvicorn ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving("tests.apps.upload_app:app") as url:
        yield url


def otlp_export(spans: int) -> bytes:
    """An OTLP/HTTP JSON export shaped like the OpenTelemetry SDKs' (ExportTraceServiceRequest)."""
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "checkout"}}
                        ]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "opentelemetry.instrumentation.asgi"},
                            "spans": [
                                {
                                    "traceId": f"{i:032x}",
                                    "spanId": f"{i:016x}",
                                    "name": f"POST /api/orders/{i % 50}",
                                    "kind": 2,
                                    "startTimeUnixNano": str(1_700_000_000_000_000_000 + i),
                                    "endTimeUnixNano": str(1_700_000_000_500_000_000 + i),
                                    "attributes": [
                                        {"key": "http.status_code", "value": {"intValue": 200}}
                                    ],
                                }
                                for i in range(spans)
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode()


@pytest.mark.interop
def test_fastapi_reads_an_otlp_export_sent_with_gzip_by_httpx(server: str) -> None:
    export = otlp_export(512)
    response = httpx.post(
        server + "/v1/traces",
        content=gzip.compress(export),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"spans": 512}


@pytest.mark.interop
def test_fastapi_reads_a_curl_upload_of_a_gzip_file(server: str, tmp_path: Path) -> None:
    data = otlp_export(2000)
    path = tmp_path / "export.json.gz"
    path.write_bytes(gzip.compress(data))
    result = subprocess.run(
        [
            *("/usr/bin/curl", "--silent", "--show-error", "--fail-with-body"),
            *("--data-binary", f"@{path}"),
            *("-H", "Content-Encoding: gzip", "-H", "Content-Type: application/json"),
            server + "/upload",
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


BOMB = 64 * MiB


@pytest.mark.interop
@pytest.mark.parametrize("header", ["gzip", "br", "zstd", "gzip, br"])
def test_bombs_are_refused_413_while_other_requests_are_served(server: str, header: str) -> None:
    pieces = nested_bomb(BOMB) if header == "gzip, br" else zeros_pieces(header, BOMB)
    assert sum(map(len, pieces)) * 1000 < BOMB  # expands more than 1000 times
    key = header.replace(", ", "-")
    started: dict[str, int] = {}

    def upload() -> Iterator[bytes]:
        yield pieces[0]  # one MiB once decoded, under the limit
        # Another request, answered only once the bomb has handed the app its first bytes:
        # the server serves it while the bomb is open, mid-body.
        with httpx.Client(timeout=20) as other:
            started.update(other.get(f"{server}/bomb/{key}/started").json())
        yield from pieces[1:]

    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{server}/bomb/{key}", content=upload(), headers={"Content-Encoding": header}
        )
        assert response.status_code == 413, response.text
        assert 0 < started["size"] <= SERVER_MAX_SIZE
        delivered = client.get(f"{server}/bomb/{key}").json()["size"]
    assert 0 < delivered <= SERVER_MAX_SIZE  # the app never got more than the limit


@pytest.mark.interop
def test_a_zstd_frame_declaring_a_huge_window_is_refused_413(server: str) -> None:
    response = httpx.post(
        f"{server}/bomb/window", content=huge_window_zstd(), headers={"Content-Encoding": "zstd"}
    )
    assert response.status_code == 413
    assert httpx.get(f"{server}/bomb/window").json()["size"] == 0  # the app got nothing
