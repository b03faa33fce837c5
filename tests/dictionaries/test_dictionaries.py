"""Compression Dictionary Transport (RFC 9842): the dcz bytes, the headers, the decisions.

Every dcz body is decoded here with the zstd module given the dictionary as a raw prefix (what
a browser does with a ``type=raw`` dictionary), never with our encoder.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from typing import Any

import pytest

from asgi_compress.dictionaries.transport import (
    DICTIONARY_VARY,
    Dictionary,
    DictionaryRequest,
    MatchPattern,
    ResponseFacts,
    choose_dictionary,
    dcz_etag_token,
    dcz_window_log,
    is_dictionary_candidate,
    parse_available_dictionary,
    parse_dictionary_id,
    train_dictionary,
    use_as_dictionary,
)
from tests.harness import make_scope
from tests.harness.dcz import (
    DczDecoder,
    api_samples,
    bundle,
    decode_dcz,
    encoder_for,
)

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MB = 1024 * 1024
ZSTD_FRAME_MAGIC = b"\x28\xb5\x2f\xfd"


# -- the dcz body --------------------------------------------------------------------------------


def test_body_starts_with_skippable_frame_carrying_the_dictionary_hash() -> None:
    dictionary = bundle(1)
    body = encoder_for(dictionary).finish(bundle(2))
    assert body[:8] == bytes.fromhex("5e2a4d1820000000")
    assert body[8:40] == hashlib.sha256(dictionary).digest()
    assert body[40:44] == ZSTD_FRAME_MAGIC
    # A plain zstd decoder sees a skippable frame and then a frame it cannot decode without
    # the dictionary: the skippable frame is exactly the 40-byte header.
    assert zstd.get_frame_size(body) == 40


def test_new_version_decodes_against_the_old_one_and_is_a_small_delta() -> None:
    old, new = bundle(1), bundle(2)
    body = encoder_for(old).finish(new)
    assert decode_dcz(body, old) == new
    assert len(body) * 4 < len(zstd.compress(new, 19))


def test_body_cannot_be_decoded_without_the_dictionary() -> None:
    body = encoder_for(bundle(1)).finish(bundle(2))
    with pytest.raises(zstd.ZstdError):
        zstd.ZstdDecompressor().decompress(body[40:])


def test_streamed_chunks_each_decode_as_they_arrive() -> None:
    dictionary = bundle(1)
    encoder = encoder_for(dictionary)
    decoder = DczDecoder(dictionary)
    chunks = [bundle(2)[i : i + 7000] for i in range(0, 70_000, 7000)]
    for chunk in chunks:
        assert decoder.feed(encoder.flush(chunk)) == chunk
    assert decoder.feed(encoder.finish(b"the end")) == b"the end"
    assert decoder.eof


def test_compress_then_finish_decodes_whole() -> None:
    dictionary = bundle(1)
    encoder = encoder_for(dictionary)
    body = encoder.compress(bundle(2)[:50_000]) + encoder.finish(bundle(2)[50_000:])
    assert decode_dcz(body, dictionary) == bundle(2)


def test_trained_dictionary_is_used_as_raw_bytes() -> None:
    """A zstd-trained dictionary starts with zstd's dictionary magic; the browser still loads
    it as raw bytes, so the frame must not name a dictionary ID nor use its tables."""
    samples = api_samples(400)
    dictionary = train_dictionary(samples[:300], 8 * 1024)
    assert dictionary[:4] == b"\x37\xa4\x30\xec"  # zstd dictionary magic
    for sample in samples[300:320]:
        body = encoder_for(dictionary).finish(sample)
        assert zstd.get_frame_info(body[40:]).dictionary_id == 0
        assert decode_dcz(body, dictionary) == sample


@pytest.mark.parametrize(
    ("dictionary_size", "window_log"),
    [
        pytest.param(1, 23, id="tiny-dict-8MB"),
        pytest.param(6 * MB, 23, id="6MB-dict-7.5MB-limit-still-8MB"),
        pytest.param(7 * MB, 23, id="7MB-dict-8.75MB-limit"),
        pytest.param(14 * MB, 24, id="14MB-dict-17.5MB-limit"),
        pytest.param(100 * MB, 26, id="100MB-dict-125MB-limit"),
        pytest.param(500 * MB, 27, id="capped-at-128MB"),
    ],
)
def test_window_stays_within_rfc_9842_limit(dictionary_size: int, window_log: int) -> None:
    assert dcz_window_log(dictionary_size) == window_log
    limit = min(128 * MB, max(8 * MB, dictionary_size * 1.25))
    assert 2**window_log <= limit < 2 ** (window_log + 1)


def test_large_streamed_body_keeps_window_a_browser_accepts() -> None:
    """10 MB streamed (no content size): the frame's window is 8 MB, and a decoder that
    refuses anything larger (RFC 9659, RFC 9842 section 5) decodes it."""
    dictionary = bundle(1)
    body = b"".join(b"%08d," % i for i in range(1_200_000))
    encoder = encoder_for(dictionary, level=1)
    encoded = encoder.compress(body) + encoder.finish()
    frame = encoded[40:]
    descriptor = frame[4]
    assert descriptor & 0x20 == 0, "a streamed frame has a window descriptor"
    window_byte = frame[5]
    assert 10 + (window_byte >> 3) <= 23
    assert decode_dcz(encoded, dictionary, window_log_max=23) == body


# -- the headers ---------------------------------------------------------------------------------

DIGEST = hashlib.sha256(b"dictionary").digest()
B64 = base64.b64encode(DIGEST)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([b":" + B64 + b":"], DIGEST, id="sf-binary"),
        pytest.param([b"  :" + B64 + b":  "], DIGEST, id="surrounding-spaces"),
        pytest.param([b":" + B64.rstrip(b"=") + b":"], DIGEST, id="padding-omitted"),
        pytest.param([], None, id="absent"),
        pytest.param([b":" + B64 + b":", b":" + B64 + b":"], None, id="two-lines"),
        pytest.param([b":" + B64 + b":, :" + B64 + b":"], None, id="a-list"),
        pytest.param([B64], None, id="no-colons"),
        pytest.param([b'"' + B64 + b'"'], None, id="a-string"),
        pytest.param([b":" + base64.b64encode(DIGEST[:31]) + b":"], None, id="31-bytes"),
        pytest.param([b":" + base64.b64encode(DIGEST + b"x") + b":"], None, id="33-bytes"),
        pytest.param([b":" + DIGEST.hex().encode() + b":"], None, id="hex-not-base64"),
        pytest.param([b":" + B64 + b":;a=1"], None, id="parameters"),
        pytest.param([b"::"], None, id="empty"),
        pytest.param([b":" + B64[:-2] + b"*=:"], None, id="bad-character"),
    ],
)
def test_available_dictionary_parsing(lines: list[bytes], expected: bytes | None) -> None:
    assert parse_available_dictionary(lines) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([b'"app-v1"'], "app-v1", id="string"),
        pytest.param([b'"a \\"quoted\\" \\\\ id"'], 'a "quoted" \\ id', id="escapes"),
        pytest.param([b'"' + b"x" * 1024 + b'"'], "x" * 1024, id="1024-chars"),
        pytest.param([b'"' + b"x" * 1025 + b'"'], None, id="1025-chars"),
        pytest.param([b"app-v1"], None, id="token-not-string"),
        pytest.param([b'"bad \\n escape"'], None, id="bad-escape"),
        pytest.param([b'"caf\xc3\xa9"'], None, id="non-ascii"),
        pytest.param([b'"a"', b'"b"'], None, id="two-lines"),
        pytest.param([], None, id="absent"),
    ],
)
def test_dictionary_id_parsing(lines: list[bytes], expected: str | None) -> None:
    assert parse_dictionary_id(lines) == expected


def test_use_as_dictionary_is_an_sf_dictionary() -> None:
    assert use_as_dictionary("/static/app.*.js") == b'match="/static/app.*.js", type=raw'
    value = use_as_dictionary("/api/*", match_dest=["script", "document"], id='v"1')
    assert value == b'match="/api/*", match-dest=("script" "document"), id="v\\"1", type=raw'


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"match": "https://cdn.example/*"}, "same-origin", id="absolute-url"),
        pytest.param({"match": "/api/:id"}, "not supported", id="named-group"),
        pytest.param({"match": "/api/(\\d+)"}, "not supported", id="regexp-group"),
        pytest.param({"match": "/api/*?v=1"}, "not supported", id="search-part"),
        pytest.param({"match": "api/*"}, "starting with '/'", id="relative"),
        pytest.param({"match": "/caf\u00e9/*"}, "percent-encode", id="non-ascii"),
        pytest.param({"match": "/a", "id": "x" * 1025}, "1024", id="id-too-long"),
        pytest.param({"match": "/a", "id": "caf\u00e9"}, "printable ASCII", id="id-non-ascii"),
    ],
)
def test_use_as_dictionary_refuses_what_it_cannot_express(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        use_as_dictionary(**kwargs)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        pytest.param("/static/app.*.js", "/static/app.v2.js", True, id="versioned"),
        pytest.param("/static/app.*.js", "/static/app.js", False, id="dot-required"),
        pytest.param("/app/*/main.js", "/app/v2/sub/main.js", True, id="star-spans-slashes"),
        pytest.param("/api/*", "/api/", True, id="star-matches-empty"),
        pytest.param("/api/*", "/apis/x", False, id="prefix-is-literal"),
        pytest.param("/exact.js", "/exact.js", True, id="literal"),
        pytest.param("/exact.js", "/exact.jsx", False, id="anchored-end"),
        pytest.param("/a.b", "/aXb", False, id="dot-is-literal"),
        pytest.param("/%7Euser/*", "/%7Euser/x", True, id="percent-encoded"),
    ],
)
def test_match_pattern(pattern: str, path: str, matches: bool) -> None:
    assert MatchPattern.compile(pattern).matches(path) is matches


def test_dcz_answers_vary_on_both_headers() -> None:
    name, value = DICTIONARY_VARY
    assert name == b"vary"
    assert [v.strip() for v in value.split(b",")] == [b"accept-encoding", b"available-dictionary"]


def test_etag_token_differs_per_dictionary() -> None:
    one, two = Dictionary.from_bytes(b"one"), Dictionary.from_bytes(b"two")
    assert dcz_etag_token(one).startswith("dcz-")
    assert dcz_etag_token(one) != dcz_etag_token(two)


# -- the request view ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "accepts"),
    [
        pytest.param("gzip, deflate, br, zstd, dcb, dcz", True, id="chromium"),
        pytest.param("gzip, br, zstd", False, id="curl"),
        pytest.param("dcz;q=0, *", False, id="q0"),
        pytest.param("*", True, id="wildcard"),
    ],
)
def test_request_view_reads_dcz_acceptance(accept: str, accepts: bool) -> None:
    scope = make_scope(path="/x", accept_encoding=accept)
    assert DictionaryRequest.from_scope(scope).accepts_dcz is accepts


def test_request_view_reads_dictionary_headers_and_raw_path() -> None:
    scope = make_scope(
        path="/caf\u00e9",
        headers=[("Available-Dictionary", f":{B64.decode()}:"), ("Dictionary-ID", '"v1"')],
        accept_encoding="dcz",
    )
    scope["raw_path"] = b"/caf%C3%A9"
    request = DictionaryRequest.from_scope(scope)
    assert (request.path, request.available, request.dictionary_id) == ("/caf%C3%A9", DIGEST, "v1")
    assert not request.authorized
    scope["headers"].append((b"authorization", b"Bearer t"))
    assert DictionaryRequest.from_scope(scope).authorized


# -- the decisions -------------------------------------------------------------------------------

DICT = Dictionary.from_bytes(bundle(1), match="/static/app.*.js")
DICT_WITH_ID = Dictionary.from_bytes(bundle(1), match="/static/app.*.js", id="app")
CACHEABLE = [("cache-control", "max-age=3600")]


def facts(*headers: tuple[str, str]) -> ResponseFacts:
    return ResponseFacts.from_headers([(n.encode(), v.encode()) for n, v in headers])


def chromium_request(**changes: Any) -> DictionaryRequest:
    """What Chromium sends for app.v2.js holding app.v1.js, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "method": "GET",
        "path": "/static/app.v2.js",
        "accepts_dcz": True,
        "available": DICT.sha256,
        "dictionary_id": None,
    }
    return DictionaryRequest(**{**fields, **changes})


# Each row changes one thing from the first, which compresses with the dictionary.
@pytest.mark.parametrize(
    ("request_changes", "headers", "found", "excluded", "chosen"),
    [
        pytest.param({}, CACHEABLE, DICT, False, True, id="all-rules-pass"),
        pytest.param({}, [], DICT, False, True, id="no-cache-headers"),
        pytest.param({"dictionary_id": "app"}, CACHEABLE, DICT_WITH_ID, False, True,
                     id="matching-dictionary-id"),
        pytest.param({}, CACHEABLE, None, False, False, id="unknown-hash"),
        pytest.param({"available": None}, CACHEABLE, DICT, False, False,
                     id="no-available-dictionary"),
        pytest.param({"available": DIGEST}, CACHEABLE, DICT, False, False,
                     id="store-answered-another-hash"),
        pytest.param({"accepts_dcz": False}, CACHEABLE, DICT, False, False,
                     id="client-without-dcz"),
        pytest.param({}, CACHEABLE, DICT_WITH_ID, False, False, id="missing-dictionary-id"),
        pytest.param({"dictionary_id": "other"}, CACHEABLE, DICT_WITH_ID, False, False,
                     id="wrong-dictionary-id"),
        pytest.param({"path": "/account"}, CACHEABLE, DICT, False, False,
                     id="path-outside-match"),
        pytest.param({}, [*CACHEABLE, ("set-cookie", "s=1")], DICT, False, False,
                     id="sets-cookie"),
        pytest.param({}, [("cache-control", "no-store")], DICT, False, False, id="no-store"),
        pytest.param({}, [("cache-control", "private, max-age=60")], DICT, False, False,
                     id="private"),
        pytest.param({}, CACHEABLE, DICT, True, False, id="excluded"),
        pytest.param({}, [("content-encoding", "br")], DICT, False, False,
                     id="already-encoded"),
        pytest.param({}, [("content-range", "bytes 0-9/99")], DICT, False, False,
                     id="partial"),
    ],
)  # fmt: skip
def test_choose_dictionary(
    request_changes: dict[str, Any],
    headers: list[tuple[str, str]],
    found: Dictionary | None,
    excluded: bool,
    chosen: bool,
) -> None:
    request = chromium_request(**request_changes)
    result = choose_dictionary(request, facts(*headers), found, excluded=excluded)
    assert result is (found if chosen else None)


PATTERNS = (MatchPattern.compile("/static/app.*.js"),)
JS = DictionaryRequest("GET", "/static/app.v1.js", False)


@pytest.mark.parametrize(
    ("request_", "status", "headers", "body_size", "expected"),
    [
        pytest.param(
            JS, 200, [("cache-control", "public, max-age=31536000")], 1000,
            ("/static/app.*.js", b'match="/static/app.*.js", type=raw'), id="versioned-bundle",
        ),
        pytest.param(
            JS, 200, [("cache-control", "max-age=60"),
                      ("use-as-dictionary", 'match="/static/*", id="mine"')], None,
            ("/static/*", None), id="app-header-kept",
        ),
        pytest.param(
            JS, 200, [("cache-control", "max-age=60"),
                      ("use-as-dictionary", 'match="https://x.example/*"')], None,
            None, id="app-header-other-origin",
        ),
        pytest.param(
            JS, 200, [("cache-control", "max-age=60"),
                      ("use-as-dictionary", 'match="/a/*", type=other')], None,
            None, id="app-header-unknown-type",
        ),
        pytest.param(DictionaryRequest("GET", "/static/other.js", False), 200,
                     [("cache-control", "max-age=60")], None, None, id="path-not-configured"),
        pytest.param(
            JS, 200, [("cache-control", "max-age=60"),
                      ("use-as-dictionary",
                       'match="/a,b/*", match-dest=("script" "style"), id="x, \\"y\\""')],
            None, ("/a,b/*", None), id="app-header-commas-in-strings-and-lists",
        ),
        pytest.param(
            JS, 200, [("cache-control", "max-age=60"), ("use-as-dictionary", 'match="/a"; x')],
            None, None, id="app-header-malformed",
        ),
        pytest.param(DictionaryRequest("GET", "/static/app.v1.js", False, authorized=True),
                     200, [("cache-control", "max-age=60")], None, None,
                     id="authorized-request"),
        pytest.param(DictionaryRequest("HEAD", "/static/app.v1.js", False), 200,
                     [("cache-control", "max-age=60")], None, None, id="head-request"),
        pytest.param(JS, 404, [("cache-control", "max-age=60")], None, None, id="not-200"),
        pytest.param(JS, 200, [], None, None, id="not-cacheable"),
        pytest.param(JS, 200, [("cache-control", "max-age=0")], None, None, id="max-age-0"),
        pytest.param(JS, 200, [("cache-control", "no-cache, max-age=60")], None, None,
                     id="no-cache"),
        pytest.param(JS, 200, [("cache-control", "no-store")], None, None, id="no-store"),
        pytest.param(JS, 200, [("cache-control", "private, max-age=60")], None, None,
                     id="private"),
        pytest.param(JS, 200, [("cache-control", "max-age=60"), ("set-cookie", "a=1")], None,
                     None, id="set-cookie"),
        pytest.param(JS, 200, [("cache-control", "max-age=60"), ("content-encoding", "br")],
                     None, None, id="app-encoded"),
        pytest.param(JS, 200, [("cache-control", "max-age=60")], 0, None, id="empty-body"),
        pytest.param(JS, 200, [("cache-control", "max-age=60")], 100 * MB + 1, None,
                     id="over-chromium-100MiB"),
    ],
)  # fmt: skip
def test_is_dictionary_candidate(
    request_: DictionaryRequest,
    status: int,
    headers: list[tuple[str, str]],
    body_size: int | None,
    expected: tuple[str, bytes | None] | None,
) -> None:
    mark = is_dictionary_candidate(request_, status, facts(*headers), PATTERNS, body_size=body_size)
    if expected is None:
        assert mark is None
        return
    assert mark is not None
    match, header = expected
    assert mark.match == match
    assert mark.header == (None if header is None else (b"use-as-dictionary", header))


def test_candidate_respects_the_store_size_bound() -> None:
    response = facts(("cache-control", "max-age=60"))
    assert (
        is_dictionary_candidate(JS, 200, response, PATTERNS, body_size=2000, max_size=1000) is None
    )
    assert is_dictionary_candidate(JS, 200, response, PATTERNS, body_size=1000, max_size=1000)
