"""BREACH padding: every coding carries a random number of extra bytes that decoders skip."""

from __future__ import annotations

import pytest

from asgi_compress import CompressMiddleware
from asgi_compress._padding import padding
from asgi_compress.settings import Settings

from .conftest import ENCODINGS, Decoder, app_sending, body, decode, run, start, text

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
