"""BREACH padding: every coding carries a random number of extra bytes that decoders skip."""

from __future__ import annotations

import hashlib
import sys

import pytest

from asgi_compress import CompressMiddleware
from asgi_compress.codecs._padding import padding
from asgi_compress.settings import Settings
from tests.harness import ENCODINGS, Decoder, app_sending, body, decode, run, start, text
from tests.harness.dcz import CACHEABLE, CHROMIUM_AE, JS, available, bundle, middleware, store_v1

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

PAGE = text(6000)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("extra", [0, 1, 2, 3, 7, 8, 13, 255, 256, 257, 1000, 4096])
def test_padding_adds_exactly_the_requested_bytes_and_decodes_away(
    encoding: str, extra: int
) -> None:
    factory = Settings.from_options().encoders[encoding]
    plain, padded = factory(), factory()
    reference = padding(plain, 0) + plain.flush(PAGE[:100]) + plain.finish(PAGE[100:])
    out = padding(padded, extra) + padded.flush(PAGE[:100]) + padded.finish(PAGE[100:])
    assert len(out) - len(reference) == extra
    assert decode(encoding, out) == PAGE


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_breach_padding_varies_the_length_of_identical_responses(encoding: str) -> None:
    app = CompressMiddleware(app_sending([start(), body(PAGE)]), breach_padding=64)
    lengths = set()
    for _ in range(30):
        rec = await run(app, accept_encoding=encoding)
        assert int(rec.headers["content-length"]) == len(rec.body)
        assert decode(encoding, rec.body) == PAGE
        lengths.add(len(rec.body))
    # 30 draws from 65 lengths: the chance of fewer than 5 distinct ones is negligible.
    assert len(lengths) >= 5


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_padded_streams_still_decode_each_message_on_arrival(encoding: str) -> None:
    chunks = [text(3000, seed=i) for i in range(4)]
    msgs = [start(content_type="text/event-stream"), *(body(c, True) for c in chunks), body(b"")]
    decoder = Decoder(encoding)
    arrived: list[bytes] = []
    rec = await run(
        CompressMiddleware(app_sending(msgs), breach_padding=100),
        accept_encoding=encoding,
        on_send=lambda m: (
            arrived.append(decoder.feed(m["body"])) if m["type"] == "http.response.body" else None
        ),
    )
    assert rec.headers["content-encoding"] == encoding
    assert b"".join(arrived) == b"".join(chunks)
    assert [a for a in arrived if a] == chunks
    assert decoder.eof


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
async def test_dcz_answers_are_padded_after_their_header(streamed: bool) -> None:
    """Issue 16: a client holding a dictionary must not get an exact length oracle. The
    padding is a skippable frame right after the 40-byte dcz header, which stays first."""
    v2 = bundle(2)
    if streamed:
        chunks = [v2[i : i + 30_000] for i in range(0, len(v2), 30_000)]
        messages = [start(200, JS, [CACHEABLE]), *(body(c, True) for c in chunks), body()]
    else:
        messages = [start(200, JS, [CACHEABLE]), body(v2)]
    mw = middleware(messages, breach_padding=256, flush_delay=0)
    await store_v1(mw)
    header = b"\x5e\x2a\x4d\x18\x20\x00\x00\x00" + hashlib.sha256(bundle(1)).digest()
    lengths: dict[str, set[int]] = {"dcz": set(), "zstd": set()}
    for _ in range(20):
        for held, accept in (([available(bundle(1))], CHROMIUM_AE), ([], "zstd")):
            rec = await run(mw, path="/static/app.v2.js", headers=held, accept_encoding=accept)
            coding = rec.headers["content-encoding"]
            assert coding == ("dcz" if held else "zstd")
            lengths[coding].add(len(rec.body))
            if coding == "zstd":
                assert decode("zstd", rec.body) == v2
                continue
            assert rec.body[:40] == header  # RFC 9842 section 5: what Chromium checks first
            frame = int.from_bytes(rec.body[40:44], "little")
            assert frame & 0xFFFFFFF0 == 0x184D2A50  # the padding: a skippable frame
            # decompress() reads every frame, as Chromium's stream decoder does.
            raw = zstd.ZstdDict(bundle(1), is_raw=True)
            assert zstd.decompress(rec.body[40:], zstd_dict=raw) == v2
    # 20 draws from 257 lengths each: fewer than 10 distinct ones is next to impossible.
    assert len(lengths["zstd"]) >= 10
    assert len(lengths["dcz"]) >= 10


async def test_breach_padding_makes_the_suffixed_etag_weak() -> None:
    """RFC 9110 section 8.8.1: a strong validator promises identical bytes; padded bytes
    differ on every response."""
    msgs = [start(headers=[("etag", '"v"')]), body(PAGE)]
    padded = await run(
        CompressMiddleware(app_sending(msgs), breach_padding=64), accept_encoding="br"
    )
    plain = await run(CompressMiddleware(app_sending(msgs), cache=None), accept_encoding="br")
    assert padded.headers["etag"] == 'W/"v:br"'
    assert plain.headers["etag"] == '"v:br"'
    assert decode("br", padded.body) == PAGE
