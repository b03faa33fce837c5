"""Memory per open stream: an event stream's encoder keeps a small window and small tables,
and a stream's encoder is let go of as soon as the response is over (issue 18).

The window is read from each coding's own header (zstd's window descriptor, brotli's WBITS,
zlib's CINFO); the rest of the measured parameters (benchmarks/results/stream_memory.md) by
comparing the bytes with the codec's own at those parameters. Release is checked with the
garbage collector off: the encoder must be gone by reference counting alone.
"""

from __future__ import annotations

import gc
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import brotli
import pytest

from asgi_compress import CompressMiddleware, Settings
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.codecs.encoders import ZLIB
from tests.harness import Client, Decoder, body, run, start
from tests.harness.tracked import EncoderTracker

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

EVENTS = [
    b'data: {"seq":%d,"delta":{"content":" token %d"},"finish_reason":null}\n\n' % (i, i * 7)
    for i in range(40)
]
# One event longer than memLevel 4's 1,023-symbol DEFLATE blocks, so that the memLevel shows
# in the bytes; the rest are the small events an SSE feed sends.
EVENTS[5] = b"data: " + b" ".join(b"%d:%x" % (i, i * i) for i in range(900)) + b"\n\n"


async def _event_stream(coding: str, content_type: str = "text/event-stream") -> list[bytes]:
    """The body messages the middleware sends for an event stream of EVENTS, as sent."""
    encoding, pieces = await _stream_for(coding, content_type)
    assert encoding == coding
    return pieces


async def _stream_for(
    accept: str, content_type: str = "text/event-stream", **options: Any
) -> tuple[str, list[bytes]]:
    """The Content-Encoding and body messages of a stream of EVENTS to a client sending
    ``accept``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type=content_type))
        for event in EVENTS:
            await send(body(event, more=True))
        await send(body(b""))

    rec = await run(CompressMiddleware(app, flush_delay=0, **options), accept_encoding=accept)
    return rec.headers.get("content-encoding", ""), [m["body"] for m in rec.bodies]


def _decoded_event_by_event(coding: str, pieces: list[bytes]) -> list[bytes]:
    decoder = Decoder(coding)
    out = [decoder.feed(piece) for piece in pieces]
    assert decoder.eof
    return out


def _zstd_window(frame: bytes) -> int:
    """The window size a zstd frame header declares (RFC 8878 section 3.1.1.1)."""
    assert frame[:4] == b"\x28\xb5\x2f\xfd"
    descriptor = frame[4]
    assert not descriptor & 0x20, "a streamed frame carries a window descriptor"
    exponent, mantissa = frame[5] >> 3, frame[5] & 7
    base = 1 << (10 + exponent)
    return base + base // 8 * mantissa


def _brotli_wbits(stream: bytes) -> int:
    """WBITS from a brotli stream header (RFC 7932 section 9.1)."""
    bits = stream[0] | stream[1] << 8
    if not bits & 1:
        return 16
    n = bits >> 1 & 7
    if n:
        return 17 + n
    n = bits >> 4 & 7
    assert n != 1, "large-window brotli is not RFC 7932"
    return 8 + n if n else 17


# -- an event stream's parameters, as its bytes show them -------------------------------------


async def test_zstd_event_stream_declares_a_64_kib_window() -> None:
    pieces = await _event_stream("zstd")
    encoded = b"".join(pieces)
    assert _zstd_window(encoded) == 64 * 1024
    # A decoder that refuses any larger window decodes it, event by event.
    decoder = zstd.ZstdDecompressor(options={zstd.DecompressionParameter.window_log_max: 16})
    assert [decoder.decompress(piece) for piece in pieces] == [*EVENTS, b""]
    assert decoder.eof


async def test_zstd_event_stream_uses_the_measured_matcher() -> None:
    """Window 2**16, a btlazy2 matcher on a 2**10-entry hash and a 2**11-entry tree searching
    2**4: zstd's bytes at exactly those parameters (the lazy matcher used before, or a level's
    own tables, find other matches)."""
    P = zstd.CompressionParameter
    measured: dict[int, int] = {
        P.compression_level: 3,
        P.window_log: 16,
        P.hash_log: 10,
        P.chain_log: 11,
        P.search_log: 4,
        P.strategy: zstd.Strategy.btlazy2,
    }
    assert await _event_stream("zstd") == _zstd_pieces(measured)
    level_3: dict[int, int] = {P.compression_level: 3, P.window_log: 16}
    before = {**measured, P.hash_log: 13, P.chain_log: 13, P.strategy: zstd.Strategy.lazy}
    for other in (level_3, before):  # the events tell them apart
        assert _zstd_pieces(measured) != _zstd_pieces(other)


def _zstd_pieces(options: dict[int, int]) -> list[bytes]:
    compressor = zstd.ZstdCompressor(options=options)
    pieces = [compressor.compress(event, zstd.ZstdCompressor.FLUSH_BLOCK) for event in EVENTS]
    return [*pieces, compressor.compress(b"", zstd.ZstdCompressor.FLUSH_FRAME)]


async def test_br_event_stream_is_quality_3_with_a_64_kib_window() -> None:
    pieces = await _event_stream("br")
    assert _brotli_wbits(pieces[0]) == 16
    reference = brotli.Compressor(quality=3, lgwin=16)
    expected = [reference.process(event) + reference.flush() for event in EVENTS]
    expected.append(reference.finish())
    assert pieces == expected
    assert _decoded_event_by_event("br", pieces)[:-1] == EVENTS


async def test_deflate_event_stream_is_stdlib_zlib_at_mem_level_4() -> None:
    """CINFO 7 (a 32 KiB window, RFC 1950 section 2.2), and stdlib zlib's bytes at
    memLevel 4: not zlib-ng, whose hash table is 128 KiB whatever memLevel says."""
    pieces = await _event_stream("deflate")
    assert pieces[0][0] >> 4 == 7
    assert pieces == _zlib_pieces(mem_level=4)
    assert _zlib_pieces(mem_level=4) != _zlib_pieces(mem_level=8)  # the events tell them apart
    assert _decoded_event_by_event("deflate", pieces)[:-1] == EVENTS


def _zlib_pieces(*, mem_level: int) -> list[bytes]:
    reference = zlib.compressobj(-1, zlib.DEFLATED, zlib.MAX_WBITS, mem_level)
    pieces = [reference.compress(event) + reference.flush(zlib.Z_SYNC_FLUSH) for event in EVENTS]
    return [*pieces, reference.flush()]


async def test_gzip_event_stream_decodes_event_by_event() -> None:
    pieces = await _event_stream("gzip")
    assert _decoded_event_by_event("gzip", pieces)[:-1] == EVENTS


async def test_other_streams_keep_the_larger_stream_window() -> None:
    """Only event streams get the small window: a text/plain stream keeps 512 KiB."""
    encoded = b"".join(await _event_stream("zstd", content_type="text/plain"))
    assert _zstd_window(encoded) == 512 * 1024
    assert _brotli_wbits(b"".join(await _event_stream("br", content_type="text/plain"))) == 19


# -- which coding an event stream goes out in --------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type", "options", "expected"),
    [
        pytest.param("gzip, deflate, br", "text/event-stream", {}, "gzip", id="safari-gets-gzip"),
        pytest.param("gzip, deflate, br, zstd", "text/event-stream", {}, "zstd", id="chrome"),
        pytest.param("*", "text/event-stream", {}, "zstd", id="wildcard"),
        pytest.param("br", "text/event-stream", {}, "br", id="br-only-client-gets-br"),
        pytest.param("br, gzip;q=0.5", "text/event-stream", {}, "br", id="client-ranks-br-higher"),
        pytest.param(
            "gzip, deflate, br",
            "text/event-stream",
            {"algorithm": "br, deflate, gzip"},
            "deflate",
            id="server-order-among-the-light",
        ),
        pytest.param("gzip, deflate, br", "text/plain", {}, "br", id="other-streams-keep-br"),
    ],
)
async def test_event_stream_prefers_a_coding_that_holds_little_per_stream(
    accept: str, content_type: str, options: dict[str, Any], expected: str
) -> None:
    """br's event encoder holds ~262 KiB (its floor) against zstd's ~60 and gzip's ~24, so
    among the codings a client ranks equally an event stream takes br last."""
    encoding, pieces = await _stream_for(accept, content_type, **options)
    assert encoding == expected
    assert _decoded_event_by_event(encoding, pieces)[:-1] == EVENTS


async def test_light_event_coding_is_the_small_profile(encoders: EncoderTracker) -> None:
    """The event stream a Safari-like client gets is the memLevel 4 stdlib zlib profile,
    the only encoder made for it."""
    encoding, pieces = await _stream_for("gzip, deflate, br")
    assert encoding == "gzip"
    reference = zlib.compressobj(-1, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 4)
    expected = [reference.compress(e) + reference.flush(zlib.Z_SYNC_FLUSH) for e in EVENTS]
    assert pieces == [*expected, reference.flush()]
    assert len(encoders.made) == 1  # no br encoder was made on the way


# -- release -----------------------------------------------------------------------------------


@pytest.fixture
def gc_off() -> Iterator[None]:
    """Whatever is released must go by reference counting, with no collector run."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_ZLIB_TYPES = (type(zlib.compressobj()), type(ZLIB.compressobj()))  # stdlib's, zlib-ng's
COMPRESSOR_TYPES: dict[str, type | tuple[type, ...]] = {
    "gzip": _ZLIB_TYPES,
    "deflate": _ZLIB_TYPES,
    "br": brotli.Compressor,
    "zstd": zstd.ZstdCompressor,
}


def _holds_a_compressor(encoder: object, coding: str) -> bool:
    return any(isinstance(r, COMPRESSOR_TYPES[coding]) for r in gc.get_referents(encoder))


@pytest.mark.parametrize("coding", sorted(COMPRESSOR_TYPES))
@pytest.mark.parametrize("events", [True, False], ids=["event-stream", "other-stream"])
def test_finished_encoder_lets_go_of_its_compressor(coding: str, events: bool) -> None:
    encoder = Settings(algorithm=(coding,)).encoders[coding](events=events)
    first = encoder.flush(EVENTS[0])
    assert _holds_a_compressor(encoder, coding)
    last = encoder.finish(EVENTS[1])
    assert not _holds_a_compressor(encoder, coding)
    decoder = Decoder(coding)
    assert decoder.feed(first) + decoder.feed(last) == EVENTS[0] + EVENTS[1]
    assert decoder.eof


def _live(tracker: EncoderTracker) -> int:
    return sum(ref() is not None for ref in tracker.made)


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
async def test_client_leaving_releases_the_encoder_while_the_app_runs_on(
    coding: str, encoders: EncoderTracker, gc_off: None
) -> None:
    """An SSE app that sends on after its client left: its encoder is gone at once, not
    when the app ends."""
    live_after_leaving: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type="text/event-stream"))
        await send(body(EVENTS[0], more=True))
        assert _live(encoders) == 1
        while (await receive())["type"] != "http.disconnect":
            pass
        await send(body(EVENTS[1], more=True))  # dropped: nobody listens
        live_after_leaving.append(_live(encoders))
        await send(body(b""))

    client = Client(leave_after=2)  # the head and the first event
    rec = await run(CompressMiddleware(app), client=client, accept_encoding=coding)
    assert rec.headers["content-encoding"] == coding
    assert Decoder(coding).feed(rec.bodies[0]["body"]) == EVENTS[0]
    assert live_after_leaving == [0]


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
async def test_failing_app_releases_the_encoder_its_traceback_would_keep(
    coding: str, encoders: EncoderTracker, gc_off: None
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_type="text/event-stream"))
        await send(body(EVENTS[0], more=True))
        raise RuntimeError("the feed broke")

    with pytest.raises(RuntimeError, match="the feed broke") as failure:
        await run(CompressMiddleware(app), accept_encoding=coding)
    assert failure.traceback  # the frames, the responder among them, are still alive
    assert _live(encoders) == 0
