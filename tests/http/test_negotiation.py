"""Accept-Encoding negotiation: RFC 9110 section 12.5.3, table-driven."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_compress.http.negotiation import (
    MAX_HEADER_LENGTH,
    AcceptEncoding,
    choose_encoding,
    demote,
)
from tests.harness.tracked import record_parsed_headers

DEFAULT = ("zstd", "br", "gzip", "deflate")

# (header, expected choice, server order). The header is what the caller passes: several
# Accept-Encoding lines already joined with ",".
CASES = [
    # One coding, and the header shapes real clients send.
    pytest.param("gzip", "gzip", DEFAULT, id="gzip-only"),
    pytest.param("br", "br", DEFAULT, id="br-only"),
    pytest.param("zstd", "zstd", DEFAULT, id="zstd-only"),
    pytest.param("deflate", "deflate", DEFAULT, id="deflate-only"),
    pytest.param("gzip, deflate", "gzip", DEFAULT, id="curl-gzip-deflate"),
    pytest.param("gzip, deflate, br", "br", DEFAULT, id="firefox-without-zstd"),
    pytest.param("gzip, deflate, br, zstd", "zstd", DEFAULT, id="chrome-with-zstd"),
    pytest.param("gzip", None, ("br", "zstd"), id="coding-not-offered-by-server"),
    # Ties go to the server's order, whatever the client's order.
    pytest.param("deflate, gzip", "gzip", DEFAULT, id="tie-server-order"),
    pytest.param("zstd, br", "br", ("gzip", "br", "zstd"), id="tie-custom-server-order"),
    pytest.param("*", "zstd", DEFAULT, id="wildcard-alone-server-first"),
    pytest.param("*", "gzip", ("gzip", "br"), id="wildcard-alone-custom-server-first"),
    # q values: 0..1 with up to three decimals.
    pytest.param("gzip;q=0.5", "gzip", DEFAULT, id="single-coding-below-1"),
    pytest.param("br;q=0.9, gzip;q=0.8", "br", DEFAULT, id="all-below-1"),
    pytest.param("gzip;q=1, br;q=0.5", "gzip", DEFAULT, id="higher-q-beats-server-order"),
    pytest.param("gzip;q=0.501, br;q=0.5", "gzip", DEFAULT, id="three-decimals"),
    pytest.param("gzip;q=1.000, br;q=0.999", "gzip", DEFAULT, id="one-point-zero-zero-zero"),
    pytest.param("gzip;q=1., br;q=0.9", "gzip", DEFAULT, id="one-with-bare-dot"),
    pytest.param("gzip;q=0.001", "gzip", DEFAULT, id="lowest-positive-q"),
    pytest.param("gzip;q=0., br;q=0.1", "br", DEFAULT, id="zero-with-bare-dot-refuses"),
    # Whitespace around ";" and "=" (OWS is spaces and tabs).
    pytest.param("br;q=0.4, gzip; q=0.5", "gzip", DEFAULT, id="space-after-semicolon"),
    pytest.param("br;q=0.4, gzip ;q = 0.5", "gzip", DEFAULT, id="spaces-around-semicolon-equals"),
    pytest.param("gzip ; q = 0.5 , br ; q = 0.4", "gzip", DEFAULT, id="spaces-everywhere"),
    pytest.param("gzip\t;\tq=0.5,\tbr;q=0.4", "gzip", DEFAULT, id="tabs"),
    pytest.param("  gzip  ,  br  ", "br", DEFAULT, id="padded-elements"),
    pytest.param("gzip; q=0.5", "gzip", DEFAULT, id="flask-compress-space-bug-fixed"),
    # Codings and parameter names are case-insensitive.
    pytest.param("GZIP;Q=0.5", "gzip", DEFAULT, id="uppercase-coding-and-q"),
    pytest.param("GZIP;Q=0.5, BR;Q=0.4", "gzip", DEFAULT, id="uppercase-q-compared"),
    pytest.param("GZip, Br", "br", DEFAULT, id="mixed-case-codings"),
    pytest.param("ZSTD;q=0.1, gzip;Q=0.2", "gzip", DEFAULT, id="mixed-case-params"),
    # Several header lines, joined with "," by the caller.
    pytest.param("gzip" + "," + "br", "br", DEFAULT, id="two-lines"),
    pytest.param("gzip;q=0.5" + "," + "br;q=0.9", "br", DEFAULT, id="two-lines-with-q"),
    pytest.param("br;q=0" + "," + "gzip", "gzip", DEFAULT, id="refusal-on-first-line"),
    pytest.param("gzip, deflate" + "," + "zstd;q=0", "gzip", DEFAULT, id="refusal-on-last-line"),
    # q=0 means "not acceptable", and an explicit entry beats "*".
    pytest.param("gzip;q=0", None, DEFAULT, id="q0-alone"),
    pytest.param("gzip;q=0.000", None, DEFAULT, id="q0-three-decimals"),
    pytest.param("gzip;q=0, br", "br", DEFAULT, id="q0-then-other"),
    pytest.param("*, gzip;q=0", None, ("gzip",), id="q0-beats-wildcard"),
    pytest.param("gzip;q=0, *", None, ("gzip",), id="q0-beats-wildcard-any-order"),
    pytest.param("*, gzip;q=0", "zstd", DEFAULT, id="q0-wildcard-gives-others"),
    pytest.param("zstd;q=0, br;q=0, *", "gzip", DEFAULT, id="q0-two-refused-wildcard"),
    pytest.param("*;q=0", None, DEFAULT, id="wildcard-q0"),
    pytest.param("*;q=0, gzip", "gzip", DEFAULT, id="explicit-beats-wildcard-q0"),
    pytest.param("br;q=0.5, *", "zstd", DEFAULT, id="wildcard-gives-unlisted-q1"),
    pytest.param("br;q=0.5, *;q=0.1", "br", ("br", "gzip"), id="explicit-above-wildcard"),
    pytest.param("br;q=0.5, *", None, ("br",), id="wildcard-covers-identity"),
    # identity competes: strictly preferred means no compression.
    pytest.param("identity", None, DEFAULT, id="identity-alone"),
    pytest.param("identity;q=1, *;q=0", None, DEFAULT, id="chrome-media-range-request"),
    pytest.param("deflate;q=0.5, identity;q=0.9", None, DEFAULT, id="identity-preferred"),
    pytest.param("identity, gzip", "gzip", DEFAULT, id="identity-tie-compresses"),
    pytest.param("identity;q=0.9, gzip;q=0.9", "gzip", DEFAULT, id="identity-tie-below-1"),
    pytest.param("identity;q=0.5, gzip", "gzip", DEFAULT, id="identity-lower"),
    pytest.param("identity;q=0, gzip;q=0.1", "gzip", DEFAULT, id="identity-refused"),
    pytest.param("identity;q=0, *;q=0", None, DEFAULT, id="everything-refused"),
    # x-gzip is gzip (RFC 9110 section 8.4.1.3).
    pytest.param("x-gzip", "gzip", DEFAULT, id="x-gzip"),
    pytest.param("X-GZIP;q=0.5, deflate;q=0.4", "gzip", DEFAULT, id="x-gzip-uppercase-with-q"),
    pytest.param("x-gzip;q=0, *", None, ("gzip",), id="x-gzip-q0-refuses-gzip"),
    pytest.param("x-gzip", None, ("br",), id="x-gzip-not-offered"),
    # Invalid q values make their element count as absent.
    pytest.param("gzip, br;q=1.5", "gzip", DEFAULT, id="q-above-1"),
    pytest.param("gzip, br;q=1e9", "gzip", DEFAULT, id="q-exponent"),
    pytest.param("gzip, br;q=inf", "gzip", DEFAULT, id="q-inf"),
    pytest.param("gzip, br;q=1.001", "gzip", DEFAULT, id="q-just-above-1"),
    pytest.param("*, br;q=nan", "br", ("br",), id="q-nan-not-a-refusal"),
    pytest.param("*, br;q=-1", "br", ("br",), id="q-negative-not-a-refusal"),
    pytest.param("*, br;q=", "br", ("br",), id="q-empty-not-a-refusal"),
    pytest.param("*, br;q", "br", ("br",), id="q-without-value-not-a-refusal"),
    pytest.param("*;q=0.1, br;q=0.5000, gzip;q=0.3", "gzip", ("br", "gzip"), id="q-four-decimals"),
    pytest.param("*;q=0.1, br;q=.5, gzip;q=0.3", "gzip", ("br", "gzip"), id="q-leading-dot"),
    pytest.param("*;q=0.1, br;q=+0.5, gzip;q=0.3", "gzip", ("br", "gzip"), id="q-plus-sign"),
    pytest.param('*;q=0.1, br;q="0.5", gzip;q=0.3', "gzip", ("br", "gzip"), id="q-quoted"),
    # Unknown codings are ignored.
    pytest.param("compress, foo;q=0.9", None, DEFAULT, id="unknown-only"),
    pytest.param("compress, gzip", "gzip", DEFAULT, id="unknown-and-gzip"),
    pytest.param("sdch, aes128gcm, deflate", "deflate", DEFAULT, id="unknown-and-deflate"),
    pytest.param("brotli, gzip", "gzip", DEFAULT, id="brotli-is-not-the-token"),
    # Empty and malformed headers ask for nothing; a malformed element is dropped.
    pytest.param("", None, DEFAULT, id="empty"),
    pytest.param("   ", None, DEFAULT, id="blank"),
    pytest.param("garbage", None, DEFAULT, id="garbage-word"),
    pytest.param(",,,", None, DEFAULT, id="only-commas"),
    pytest.param(";q=0.5", None, DEFAULT, id="q-without-coding"),
    pytest.param(";", None, DEFAULT, id="lone-semicolon"),
    pytest.param("=", None, DEFAULT, id="lone-equals"),
    pytest.param(",gzip,,", "gzip", DEFAULT, id="empty-elements-around"),
    pytest.param("gzip;", "gzip", DEFAULT, id="trailing-semicolon"),
    pytest.param("gzip;level, br;q=0.1", "br", DEFAULT, id="bare-parameter-drops-element"),
    pytest.param("gzip br", None, DEFAULT, id="space-inside-coding"),
    pytest.param('"gzip"', None, DEFAULT, id="quoted-coding"),
    pytest.param("gzip/1.0", None, DEFAULT, id="slash-in-coding"),
    # Latin-1 and other non-ASCII text is dropped, never raised on.
    pytest.param("gz\xefp", None, DEFAULT, id="latin1-letter-in-coding"),
    pytest.param("gzip, br\xf6tli", "gzip", DEFAULT, id="latin1-next-to-valid"),
    pytest.param("\xff\xfe\xfd", None, DEFAULT, id="latin1-high-bytes"),
    pytest.param("*, gzip;q=\xbd", "gzip", ("gzip",), id="latin1-one-half-as-q"),
    pytest.param("*, gzip;q=\u0660.5", "gzip", ("gzip",), id="arabic-digit-q"),
    pytest.param("\u0130dentity;q=0, gzip", "gzip", DEFAULT, id="dotted-capital-i"),
    pytest.param("gzip\x00", None, DEFAULT, id="nul-in-coding"),
    pytest.param("\U0001f600, br", "br", DEFAULT, id="emoji-element"),
    # The first mention of a coding counts.
    pytest.param("gzip;q=0, gzip", None, ("gzip",), id="repeat-does-not-override-refusal"),
    pytest.param("gzip;q=0, x-gzip", None, ("gzip",), id="alias-repeat-does-not-override"),
    # Header length: MAX_HEADER_LENGTH characters are parsed, one more asks for nothing.
    pytest.param("gzip" + " " * (MAX_HEADER_LENGTH - 4), "gzip", DEFAULT, id="at-max-length"),
    pytest.param("gzip" + " " * (MAX_HEADER_LENGTH - 3), None, DEFAULT, id="over-max-length"),
    # Flask-Compress's own negotiation tests (CompressionAlgoTests).
    pytest.param("gzip", "gzip", ("br", "gzip"), id="fc-one-algo-supported"),
    pytest.param("foo", None, DEFAULT, id="fc-one-algo-unsupported"),
    pytest.param("br, gzip, zstd", "zstd", ("zstd", "br", "gzip"), id="fc-tie-server-first"),
    pytest.param("foo, bar, baz", None, DEFAULT, id="fc-multiple-unsupported"),
    pytest.param("foo, bar, *", "zstd", DEFAULT, id="fc-unknowns-with-wildcard"),
    pytest.param(
        "zstd;q=0.8, br;q=0.9, gzip;q=0.5", "br", DEFAULT, id="fc-multiple-different-quality"
    ),
    pytest.param(
        "zstd;q=0.5, br;q=0.5, gzip;q=0.5",
        "gzip",
        ("gzip", "br", "zstd"),
        id="fc-multiple-equal-quality",
    ),
    pytest.param("deflate, br;q=0.999, gzip;q=0.5", "deflate", DEFAULT, id="fc-default-q-is-1"),
    # Deliberate difference: Flask-Compress picks br here; we let "*" give zstd q=1.
    pytest.param("br;q=0.001, *", "zstd", DEFAULT, id="fc-wildcard-beats-low-explicit"),
    pytest.param("*;q=0", None, DEFAULT, id="fc-wildcard-q0"),
    pytest.param("identity;q=1, br;q=0.5, *;q=0", None, DEFAULT, id="fc-identity"),
    pytest.param("identity;q=1, *;q=0", None, DEFAULT, id="fc-chrome-ranged-requests"),
]


@pytest.mark.parametrize(("header", "expected", "available"), CASES)
def test_choose_encoding(header: str, expected: str | None, available: tuple[str, ...]) -> None:
    assert choose_encoding(header, available) == expected


@pytest.mark.parametrize(
    "raw_q",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e9",
        "1e-3",
        "1.5",
        "2",
        "1.001",
        "0.5000",
        "-1",
        "-0",
        ".5",
        "+0.5",
        "",
        "0x1",
        "1_0",
        "0.5.5",
        "\xbd",
    ],
)
def test_invalid_q_makes_the_element_absent(raw_q: str) -> None:
    ae = AcceptEncoding.from_header(f"br;q={raw_q}")
    assert ae.qualities == {}
    assert ae.wildcard is None
    assert ae.quality("br") == 0.0


@pytest.mark.parametrize(
    ("header", "coding", "expected"),
    [
        pytest.param("gzip", "gzip", 1.0, id="default-q-is-1"),
        pytest.param("gzip;q=0.5", "gzip", 0.5, id="explicit-q"),
        pytest.param("gzip;q=0.123", "gzip", 0.123, id="three-decimals"),
        pytest.param("GZIP;Q=0.25", "gzip", 0.25, id="case-insensitive"),
        pytest.param("gzip ; q = 0.75", "gzip", 0.75, id="whitespace"),
        pytest.param("x-gzip;q=0.3", "gzip", 0.3, id="x-gzip-alias"),
        pytest.param("gzip", "br", 0.0, id="unlisted-without-wildcard"),
        pytest.param("br;q=0.5, *", "br", 0.5, id="explicit-beats-wildcard"),
        pytest.param("br;q=0.5, *", "zstd", 1.0, id="wildcard-for-unlisted"),
        pytest.param("*;q=0.2", "deflate", 0.2, id="wildcard-q"),
        pytest.param("*, gzip;q=0", "gzip", 0.0, id="q0-beats-wildcard"),
        pytest.param("*;q=0", "identity", 0.0, id="wildcard-q0-refuses-identity"),
        pytest.param("identity;q=0", "identity", 0.0, id="identity-refused"),
        pytest.param("identity;q=0.4", "identity", 0.4, id="identity-explicit"),
        pytest.param("identity;q=0.4, *;q=0", "identity", 0.4, id="identity-beats-wildcard"),
        pytest.param("gzip;q=0.7, gzip;q=0.1", "gzip", 0.7, id="first-mention-counts"),
        pytest.param("*;q=0.3, *;q=0.9", "br", 0.3, id="first-wildcard-counts"),
    ],
)
def test_quality(header: str, coding: str, expected: float) -> None:
    assert AcceptEncoding.from_header(header).quality(coding) == expected


def test_identity_is_acceptable_unless_refused() -> None:
    assert AcceptEncoding.from_header("gzip").quality("identity") > 0
    assert AcceptEncoding.from_header("").quality("identity") > 0


def test_from_header_keeps_wildcard_apart_from_codings() -> None:
    ae = AcceptEncoding.from_header("X-GZIP;q=0.5, br, *;q=0.1, compress")
    assert ae.qualities == {"gzip": 0.5, "br": 1.0, "compress": 1.0}
    assert ae.wildcard == 0.1


def test_oversized_header_asks_for_nothing() -> None:
    ae = AcceptEncoding.from_header("*, gzip" + "," * MAX_HEADER_LENGTH)
    assert ae.qualities == {}
    assert ae.wildcard is None


def _retained_bytes(calls: Callable[[], object]) -> int:
    """Bytes of Python memory still held after ``calls()`` ran (tracemalloc counts every
    allocation, so this is the same on every run, not a timing)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        calls()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _distinct_headers(start: int, count: int) -> None:
    for i in range(start, start + count):
        choose_encoding(f"gzip;q=0.{i % 1000:03d}, x{i}", DEFAULT)


def test_memo_is_bounded() -> None:
    """Distinct headers do not pile up: once the memo is full, 20,000 more new headers
    leave little behind (under 512 KiB). Unbounded, they would keep several MB."""
    _distinct_headers(0, 10_000)  # fill the memo, whatever its size
    assert _retained_bytes(lambda: _distinct_headers(10_000, 20_000)) < 512 * 1024


def test_oversized_headers_are_not_memoized() -> None:
    """200 different oversized headers (each over MAX_HEADER_LENGTH) ask for nothing and
    leave nothing behind: memoized, they would keep over 400 KB."""
    headers = [f"gzip, x{i}," + " " * MAX_HEADER_LENGTH for i in range(200)]
    assert all(len(header) > MAX_HEADER_LENGTH for header in headers)

    def ask() -> None:
        for header in headers:
            assert choose_encoding(header, DEFAULT) is None

    assert _retained_bytes(ask) < 64 * 1024


def test_repeated_header_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = record_parsed_headers(monkeypatch)
    header = "gzip;q=0.7, br;q=0.9, repeated-test"
    assert choose_encoding(header, DEFAULT) == "br"
    assert choose_encoding(header, DEFAULT) == "br"
    assert parsed.count(header) == 1


def test_cache_keys_on_server_order_too() -> None:
    assert choose_encoding("gzip, br", ("gzip", "br")) == "gzip"
    assert choose_encoding("gzip, br", ("br", "gzip")) == "br"


@given(st.text(max_size=200))
def test_any_text_never_raises(header: str) -> None:
    assert choose_encoding(header, DEFAULT) in (None, *DEFAULT)


@given(st.binary(max_size=200))
def test_any_latin1_decoded_bytes_never_raise(raw: bytes) -> None:
    header = raw.decode("latin-1")
    assert choose_encoding(header, DEFAULT) in (None, *DEFAULT)
    AcceptEncoding.from_header(header).quality("gzip")


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        pytest.param(
            ("zstd", "br", "gzip", "deflate"), ("zstd", "gzip", "deflate", "br"), id="default"
        ),
        pytest.param(("br", "deflate", "gzip"), ("deflate", "gzip", "br"), id="server-order-kept"),
        pytest.param(("br",), ("br",), id="only-br"),
        pytest.param(("gzip", "zstd"), ("gzip", "zstd"), id="nothing-to-move"),
    ],
)
def test_demote_moves_only_the_named_codings(
    available: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert demote(available, {"br"}) == expected
