"""Property and fuzz tests (hypothesis): round trips, hostile Accept-Encoding, bad options.

Every encoded body is checked with an independent decoder (the harness's ``Decoder``), fed one
ASGI message at a time, as a client reading the socket would. The Accept-Encoding properties
compare the middleware's choice with a reference reading of RFC 9110 section 12.5.3 written
here, separately from ``asgi_compress.http.negotiation``.
"""

from __future__ import annotations

import inspect
import os
import random
import re
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from asgi_compress import CompressMiddleware
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.http.negotiation import MAX_HEADER_LENGTH, choose_encoding
from asgi_compress.settings import Options
from tests.harness import ENCODINGS, Client, Decoder, body, make_scope, run, start, text
from tests.harness.tracked import record_parsed_headers

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# When a property fails, hypothesis imports libcst to print an @example patch; libcst's import
# warns through mypy_extensions, and filterwarnings=error would turn the report into an
# INTERNALERROR that hides the failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

# ASGI_COMPRESS_EXAMPLES=5000 makes a deeper search (the default keeps the file under 10 s).
EXAMPLES = int(os.environ.get("ASGI_COMPRESS_EXAMPLES", "200"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The option that sets each coding's level, and the levels the codec libraries accept.
LEVEL_OPTION = {"gzip": "level", "deflate": "deflate_level", "br": "br_level", "zstd": "zstd_level"}
ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL = zstd.CompressionParameter.compression_level.bounds()
# Fast enough for hundreds of examples; the slow extremes are explicit examples below.
FAST_LEVELS: dict[str, st.SearchStrategy[int]] = {
    "gzip": st.integers(-1, 9),
    "deflate": st.integers(-1, 9),
    "br": st.integers(0, 9),
    "zstd": st.one_of(st.integers(-7, 19), st.integers(ZSTD_MIN_LEVEL, -8)),
}


# -- round trip ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One response: the app sends ``start`` then one body message per chunk."""

    coding: str
    level: int
    min_size: int
    thread_min_size: int
    chunks: tuple[bytes, ...]  # all but the last sent with more_body=True
    declare_length: bool
    accept: str  # the request's Accept-Encoding
    media_type: str
    breach_padding: int = 0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def options(self) -> dict[str, Any]:
        return {
            LEVEL_OPTION[self.coding]: self.level,
            "min_size": self.min_size,
            "thread_min_size": self.thread_min_size,
            "flush_delay": 0,  # each message decodable on arrival (coalescing: test_coalescing)
            **({"breach_padding": self.breach_padding} if self.breach_padding else {}),
        }

    def messages(self) -> list[Message]:
        length = len(self.body) if self.declare_length else None
        last = len(self.chunks) - 1
        return [
            start(content_type=self.media_type, content_length=length),
            *(body(chunk, more=i < last) for i, chunk in enumerate(self.chunks)),
        ]


def _split(data: bytes, cuts: Iterable[int]) -> tuple[bytes, ...]:
    """``data`` cut at the given offsets; repeated offsets make empty chunks."""
    points = sorted(min(c, len(data)) for c in cuts)
    return tuple(data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True))


bodies = st.one_of(
    st.binary(max_size=2048),  # mostly incompressible: encoding does not pay
    st.builds(text, st.integers(0, 4096), st.integers(0, 50)),  # compressible
    st.builds(text, st.integers(60_000, 200_000), st.integers(0, 50)),  # crosses the thread size
    st.builds(lambda unit, n: unit * n, st.binary(min_size=1, max_size=8), st.integers(1, 3000)),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    coding = draw(st.sampled_from(ENCODINGS))
    data = draw(bodies)
    shape = draw(st.sampled_from(["single", "whole+empty", "streamed"]))
    if shape == "single":
        chunks: tuple[bytes, ...] = (data,)
    elif shape == "whole+empty":
        chunks = (data, b"")
    else:
        cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
        chunks = _split(data, cuts)
    accept = draw(
        st.sampled_from([coding, coding.upper(), f"{coding};q=0.5, identity;q=0.1", "identity", ""])
    )
    return Case(
        coding=coding,
        level=draw(FAST_LEVELS[coding]),
        min_size=draw(st.one_of(st.integers(0, 600), st.sampled_from([0, 1, 500, 10**9]))),
        thread_min_size=draw(st.sampled_from([0, 1, 1024, 64 * 1024])),
        chunks=chunks,
        declare_length=draw(st.booleans()),
        accept=accept,
        media_type=draw(st.sampled_from(["text/plain", "application/json", "image/png"])),
        breach_padding=draw(st.sampled_from([0, 0, 0, 1, 37, 4096])),
    )


def _extreme(coding: str, level: int, *, stream: bool) -> Case:
    data = text(150_000, seed=level & 0xFF)
    return Case(
        coding=coding,
        level=level,
        min_size=0,
        thread_min_size=64 * 1024,
        chunks=_split(data, [0, 7, 70_000, 70_000, 149_999]) if stream else (data,),
        declare_length=False,
        accept=coding,
        media_type="text/plain",
    )


async def _drive(case: Case) -> tuple[list[Message], list[list[Message]]]:
    """Run the case; return what the server got, and what it got during each app send."""
    client = Client()
    sent = client.delivered
    during: list[list[Message]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in case.messages():
            mark = len(sent)
            await send(message)
            during.append(sent[mark:])

    middleware = CompressMiddleware(app, **case.options())
    await run(middleware, client=client, accept_encoding=case.accept, deadline=30)
    return sent, during


def _header_values(message: Message, name: bytes) -> list[bytes]:
    return [v for n, v in message["headers"] if n.lower() == name]


@PROPERTY_SETTINGS
@given(case=cases())
@example(case=_extreme("br", 10, stream=False))
@example(case=_extreme("br", 11, stream=True))
@example(case=_extreme("zstd", 20, stream=False))
@example(case=_extreme("zstd", 22, stream=True))
@example(case=_extreme("zstd", ZSTD_MIN_LEVEL, stream=True))
@example(case=_extreme("gzip", 9, stream=True))
@example(case=_extreme("deflate", 0, stream=True))
@example(case=_extreme("gzip", -1, stream=False))
async def test_round_trip_preserves_every_message(case: Case) -> None:
    sent, during = await _drive(case)
    original = case.body
    event(f"{len(case.chunks)} chunk(s)" if len(case.chunks) < 3 else "3+ chunks")
    event(f"{len(original) // 65536 * 64} KiB+")

    # One head, first; then body messages only.
    head = sent[0]
    assert head["type"] == "http.response.start"
    assert all(m["type"] == "http.response.body" for m in sent[1:]), sent
    wire = b"".join(m.get("body", b"") for m in sent[1:])

    # The headers agree with the body.
    codings = _header_values(head, b"content-encoding")
    assert len(codings) <= 1
    encoding = codings[0].decode() if codings else None
    assert encoding in (None, case.coding)
    lengths = _header_values(head, b"content-length")
    assert len(lengths) <= 1
    if lengths:
        assert int(lengths[0]) == len(wire)
    elif case.declare_length:
        assert encoding is not None, "a passed-through response lost its Content-Length"
    vary = b",".join(_header_values(head, b"vary")).lower()
    assert b"accept-encoding" in [v.strip() for v in vary.split(b",")]
    event(f"encoded: {encoding is not None}")
    if encoding is None:
        assert wire == original

    # Each message decodes, on arrival, to exactly what the app sent in it; more_body kept.
    decoder = Decoder(encoding) if encoding else None
    for message, got in zip(case.messages()[1:], during[1:], strict=True):
        bodies_out = [m for m in got if m["type"] == "http.response.body"]
        data = b"".join(m.get("body", b"") for m in bodies_out)
        # (Nothing to feed is not fed: a zstd decoder at its end refuses even b"".)
        assert (decoder.feed(data) if decoder and data else data) == message["body"]
        flags = [m.get("more_body", False) for m in bodies_out]
        if message["more_body"]:
            assert all(flags)
        else:
            assert flags, "the final message was not forwarded"
            assert flags[-1] is False
            assert all(flags[:-1])
    if decoder is not None:
        assert decoder.eof, "the encoded stream did not reach its end"

    # The compress-or-pass decision is consistent with the options.
    accepted = case.accept.lower().startswith(case.coding)
    declared_small = case.declare_length and len(original) < case.min_size
    first_data = next((i for i, c in enumerate(case.chunks) if c), None)
    one_shot = first_data is None or (
        first_data == len(case.chunks) - 1
        or (case.declare_length and len(case.chunks[first_data]) == len(original))
    )
    if not accepted or case.media_type == "image/png" or declared_small:
        assert encoding is None
    elif one_shot:
        if len(original) < case.min_size or not original:
            assert encoding is None
        if encoding is not None:
            assert len(wire) < len(original), "an encoding that did not pay was sent"
    else:
        assert encoding == case.coding, "a stream of an accepted coding was not encoded"


# -- Accept-Encoding fuzz --------------------------------------------------------------------

_OWS = " \t"
_STRICT_ELEMENT = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?:[ \t]*;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?"
)
_ALIAS = {"x-gzip": "gzip"}


@dataclass(frozen=True)
class Reference:
    """A reading of an Accept-Encoding value by RFC 9110 sections 12.4.2 and 12.5.3.

    ``well_formed`` says every non-empty element matches ``codings [ weight ]`` exactly;
    ``mentions`` maps each coding (lowercase, ``x-gzip`` -> ``gzip``) to the q of every valid
    element naming it, in order; ``named`` holds every coding any element names, even with a
    malformed weight.
    """

    well_formed: bool
    mentions: dict[str, list[float]]
    named: frozenset[str]

    @classmethod
    def read(cls, header: str) -> Reference:
        well_formed = True
        mentions: dict[str, list[float]] = {}
        named: set[str] = set()
        for raw in header.split(","):
            coding_part = raw.split(";", 1)[0].strip().lower()
            named.add(_ALIAS.get(coding_part, coding_part))
            element = raw.strip(_OWS)
            if not element:
                continue
            match = _STRICT_ELEMENT.fullmatch(element)
            if match is None:
                well_formed = False
                continue
            coding = match.group(1).lower()
            coding = _ALIAS.get(coding, coding)
            q = float(match.group(2)) if match.group(2) is not None else 1.0
            mentions.setdefault(coding, []).append(q)
        return cls(well_formed, mentions, frozenset(named))

    @property
    def unambiguous(self) -> bool:
        """Well formed, and no coding (nor ``*``) listed twice."""
        return self.well_formed and all(len(qs) == 1 for qs in self.mentions.values())

    def accepts(self, coding: str) -> bool:
        """Whether some reading of the header gives ``coding`` a q above 0."""
        qs = self.mentions.get(coding)
        if qs is None:
            qs = self.mentions.get("*", [])
        return any(q > 0 for q in qs)

    def q(self, coding: str) -> float:
        """The q of ``coding`` (headers without duplicates): its own, else ``*``'s, else 0.

        An unlisted ``identity`` is still acceptable ("acceptable by default unless
        specifically excluded"), but the RFC gives it no weight to outrank a coding the client
        listed: it only competes when listed itself or through ``*``.
        """
        if coding in self.mentions:
            return self.mentions[coding][0]
        if "*" in self.mentions:
            return self.mentions["*"][0]
        return 0.0

    def best(self, available: Sequence[str]) -> str | None:
        """The highest q among ``available`` (earliest wins ties), unless identity is
        strictly preferred or nothing is acceptable."""
        best = max(available, key=lambda c: (self.q(c), -available.index(c)), default=None)
        if best is None or self.q(best) == 0 or self.q("identity") > self.q(best):
            return None
        return best


def check_choice(header: str, available: tuple[str, ...], choice: str | None) -> None:
    """The choice is acceptable to the client; for a clear header, it is the best one."""
    assert choice is None or choice in available
    if len(header) > MAX_HEADER_LENGTH:
        assert choice is None
        return
    ref = Reference.read(header)
    if choice is not None:
        # Whatever the header looks like, a coding is only ever picked if it is named.
        assert choice in ref.named or "*" in ref.named, (header, choice)
    if ref.well_formed and choice is not None:
        assert ref.accepts(choice), (header, choice)
    if ref.unambiguous:
        assert choice == ref.best(available), (header, choice)


CODING_NAMES = [
    "gzip",
    "GZip",
    "x-gzip",
    "br",
    "BR",
    "zstd",
    "deflate",
    "identity",
    "*",
    "compress",
]
VALID_Q = ["0", "0.", "0.0", "0.000", "1", "1.", "1.0", "1.000", "0.5", "0.001", "0.999", "0.25"]
INVALID_Q = ["nan", "NaN", "inf", "-inf", "-1", "1e9", "1e-3", "0.0000", "1.0001", "2", "", ".5"]
INVALID_Q += ["+0.5", "0x1", "1.5", "0.5 5", "١", "0,5", "'0.5'", '"1"']

valid_q = st.one_of(st.sampled_from(VALID_Q), st.builds("0.{:03d}".format, st.integers(0, 999)))
qvalues = st.one_of(
    valid_q,
    st.sampled_from(INVALID_Q),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
ows = st.sampled_from(["", " ", "\t", "  ", " \t"])


@st.composite
def elements(draw: st.DrawFn) -> str:
    coding = draw(st.one_of(st.sampled_from(CODING_NAMES), st.text(max_size=8)))
    weight = ""
    if draw(st.booleans()):
        name = draw(st.sampled_from(["q", "Q", "q ", " q", "level", "Q"]))
        weight = f"{draw(ows)};{draw(ows)}{name}={draw(qvalues)}"
    if draw(st.integers(0, 9)) == 0:
        weight += draw(st.sampled_from([";foo=bar", ";", "; x", ';charset="a,b"']))
    return f"{draw(ows)}{coding}{weight}{draw(ows)}"


structured_headers = st.lists(elements(), max_size=12).map(",".join)


@st.composite
def clean_headers(draw: st.DrawFn) -> str:
    """Well formed, each coding listed once: the reference gives one clear answer."""
    codings = draw(
        st.lists(
            st.sampled_from(["gzip", "br", "zstd", "deflate", "identity", "*", "compress"]),
            unique=True,
            max_size=6,
        )
    )
    parts = []
    for coding in codings:
        name = draw(st.sampled_from([coding, coding.upper()]))
        if draw(st.booleans()):
            name += f"{draw(ows)};{draw(ows)}{draw(st.sampled_from('qQ'))}={draw(valid_q)}"
        parts.append(name)
    return f"{draw(ows)},{draw(ows)}".join(parts) if parts else ""


latin1_headers = st.binary(max_size=300).map(lambda b: b.decode("latin-1"))
huge_headers = st.one_of(
    # 64 KiB of repeated or random bytes, and thousands of elements.
    st.builds(
        lambda unit: (unit * 65536)[:65536],
        st.sampled_from(["gzip, ", "br;q=0.5,", ",", "*;q=0,", "x"]),
    ),
    st.builds(
        lambda seed: random.Random(seed).randbytes(65536).decode("latin-1"), st.integers(0, 2**16)
    ),
    st.builds(
        lambda n, q: ", ".join(f"c{i};q={q}" for i in range(n)) + ", gzip",
        st.integers(1000, 5000),
        st.sampled_from(VALID_Q + INVALID_Q),
    ),
    # Thousands of elements that still fit under the length limit.
    st.builds(
        lambda n, tail: "," * n + tail, st.integers(1000, 2000), st.sampled_from(["gzip", ""])
    ),
    st.builds(lambda n: "a," * n + "br", st.integers(500, 1000)),
)
any_header = st.one_of(
    clean_headers(), structured_headers, latin1_headers, st.text(max_size=300), huge_headers
)
availables = st.sampled_from(
    [("zstd", "br", "gzip", "deflate"), ("gzip",), ("br", "gzip"), ("deflate", "zstd"), ()]
)


@PROPERTY_SETTINGS
@given(header=any_header, available=availables)
@example(header="gzip;q=nan, br;q=inf, zstd;q=-1, deflate;q=1e9", available=("gzip", "br"))
@example(header="gzip;q=0.0000", available=("gzip",))
@example(header="*;q=0, identity", available=("zstd", "br", "gzip", "deflate"))
@example(header="GZIP;Q=0.5, X-GZIP;q=0", available=("gzip",))
def test_choose_encoding_picks_only_what_the_client_accepts(
    header: str, available: tuple[str, ...]
) -> None:
    check_choice(header, available, choose_encoding(header, available))


@pytest.mark.parametrize(
    ("header", "available", "expected"),
    [
        pytest.param("gzip;q=0", ("gzip",), None, id="q0-refuses"),
        pytest.param("*;q=0, gzip;q=0.001", ("br", "gzip"), "gzip", id="explicit-beats-star-0"),
        pytest.param("*, gzip;q=0", ("gzip", "br"), "br", id="explicit-0-beats-star"),
        pytest.param("identity;q=1, gzip;q=0.5", ("gzip",), None, id="identity-preferred"),
        pytest.param("identity;q=0.5, gzip;q=0.5", ("gzip",), "gzip", id="tie-with-identity"),
        pytest.param("x-gzip", ("gzip",), "gzip", id="x-gzip-alias"),
        pytest.param("br;q=0.5, gzip;q=0.5", ("gzip", "br"), "gzip", id="tie-server-order"),
        pytest.param("gzip;q=1.000, br;q=0.999", ("br", "gzip"), "gzip", id="three-decimals"),
    ],
)
def test_reference_reading_agrees_on_clear_headers(
    header: str, available: tuple[str, ...], expected: str | None
) -> None:
    # Checks the reference itself, then the package against it.
    assert Reference.read(header).best(available) == expected
    assert choose_encoding(header, available) == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("gzip;q=0.0000, *", id="four-decimals"),
        pytest.param("gzip;q=-1, *", id="negative"),
        pytest.param("gzip;q=nan, *", id="nan"),
        pytest.param("gzip;q=1e9, *", id="exponent"),
    ],
)
def test_an_element_with_an_invalid_q_counts_as_absent(header: str) -> None:
    # The project's rule (issue 2): a q outside RFC 9110's grammar makes its element count as
    # absent, as werkzeug drops it. gzip is then simply not listed, and "*" covers it; without
    # the "*", nothing is accepted.
    assert choose_encoding(header, ("gzip",)) == "gzip"
    assert choose_encoding(header.replace(", *", ""), ("gzip",)) is None


def _raw_scope(lines: Sequence[bytes]) -> Scope:
    scope = make_scope()
    scope["headers"] = [(b"accept-encoding", line) for line in lines]
    return scope


def _ae_app(payload: bytes) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(content_length=len(payload)))
        await send(body(payload))

    return app


PAYLOAD = text(3000)


@PROPERTY_SETTINGS
@given(
    lines=st.lists(
        st.one_of(
            st.binary(max_size=200),
            structured_headers.map(lambda s: s.encode("utf-8", "surrogatepass").decode("latin-1")),
            huge_headers,
        ).map(lambda s: s if isinstance(s, bytes) else s.encode("latin-1", "replace")),
        min_size=1,
        max_size=3,
    )
)
async def test_middleware_survives_any_accept_encoding(lines: list[bytes]) -> None:
    middleware = CompressMiddleware(_ae_app(PAYLOAD))
    sent = (await run(middleware, _raw_scope(lines), deadline=10)).messages
    header = b",".join(lines).decode("latin-1")
    codings = _header_values(sent[0], b"content-encoding")
    choice = codings[0].decode() if codings else None
    check_choice(header, middleware.settings.algorithm, choice)
    wire = b"".join(m.get("body", b"") for m in sent[1:])
    if choice is None:
        assert wire == PAYLOAD
    else:
        decoder = Decoder(choice)
        assert decoder.feed(wire) == PAYLOAD
        assert decoder.eof


@pytest.fixture
def parsed_headers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Accept-Encoding value parsed by ``AcceptEncoding.from_header`` from now on."""
    return record_parsed_headers(monkeypatch)


@settings(max_examples=100, deadline=None)
@given(
    header=st.one_of(
        st.integers(MAX_HEADER_LENGTH + 1, 70_000).map(lambda n: ("gzip, " * n)[:n]),
        huge_headers.filter(lambda h: len(h) > MAX_HEADER_LENGTH),
    )
)
def test_oversized_headers_ask_for_nothing_and_are_never_parsed(header: str) -> None:
    """Nothing to parse, so nothing to memoize (tests/http/test_negotiation.py checks that such
    headers leave no memory behind)."""
    with pytest.MonkeyPatch.context() as patch:
        parsed = record_parsed_headers(patch)
        assert choose_encoding(header, ("gzip", "br")) is None
    assert parsed == []


async def test_oversized_header_through_the_middleware_is_not_parsed(
    parsed_headers: list[str],
) -> None:
    middleware = CompressMiddleware(_ae_app(PAYLOAD))
    # Each line is short; joined they are 64 KiB.
    rec = await run(middleware, _raw_scope([b"gzip;q=0.5, br"] * 4500))
    assert parsed_headers == []
    assert "content-encoding" not in rec.headers
    assert rec.body == PAYLOAD


# -- configuration fuzz ----------------------------------------------------------------------

# The ranges come from the codec libraries, not from asgi_compress.settings.
INT_RANGES: dict[str, tuple[int, int | None]] = {
    "level": (-1, zlib.Z_BEST_COMPRESSION),
    "deflate_level": (-1, zlib.Z_BEST_COMPRESSION),
    "br_level": (0, 11),
    "br_mode": (0, 2),  # MODE_GENERIC, MODE_TEXT, MODE_FONT
    "br_window": (10, 24),
    "br_block": (0, 24),  # 0 (automatic) or 16..24
    "zstd_level": (ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL),
    "min_size": (0, None),
    "thread_min_size": (0, None),
}
if "breach_padding" in Options.__annotations__:
    INT_RANGES["breach_padding"] = (0, 4096)  # the padding bound the package documents
KNOWN_CODINGS = {"zstd", "br", "gzip", "deflate"}


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def _noop_app() -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    return app


def _construct(option: str, value: object) -> None:
    options: dict[str, Any] = {option: value}
    CompressMiddleware(_noop_app(), **options)


def _fails_naming(option: str, value: object, kind: type[Exception]) -> None:
    with pytest.raises(kind) as excinfo:
        _construct(option, value)
    message = str(excinfo.value)
    assert option in message or repr(option) in message, message


not_ints = st.one_of(
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.decimals(allow_nan=True),
    st.fractions(),
    st.complex_numbers(),
    st.builds(_Opaque),
)


@settings(max_examples=200, deadline=None)
@given(option=st.sampled_from(sorted(INT_RANGES)), value=not_ints)
def test_integer_option_of_wrong_type_fails_naming_it(option: str, value: object) -> None:
    _fails_naming(option, value, TypeError)


def _valid_int(option: str, value: int) -> bool:
    low, high = INT_RANGES[option]
    if option == "br_block" and 0 < value < 16:
        return False
    return low <= value and (high is None or value <= high)


@settings(max_examples=200, deadline=None)
@given(
    option=st.sampled_from(sorted(INT_RANGES)),
    value=st.one_of(st.integers(), st.integers(-(2**70), 2**70), st.integers(-200_000, 30)),
)
def test_integer_option_out_of_range_fails_naming_it(option: str, value: int) -> None:
    if _valid_int(option, value):
        _construct(option, value)
    else:
        _fails_naming(option, value, ValueError)


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(not_ints.filter(lambda v: not isinstance(v, bool)), st.integers()))
def test_streams_must_be_a_bool(value: object) -> None:
    _fails_naming("streams", value, TypeError)


word_lists = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.text(max_size=10), st.sampled_from(sorted(KNOWN_CODINGS))), max_size=4),
    st.lists(st.sampled_from(["gzip", " BR ", "zstd", "deflate", "x-gzip", "brotli"]), max_size=4),
    st.sampled_from(["gzip, br", "GZIP,,zstd", "", " , ", "gzip br", "identity", "*"]),
)
not_word_lists = st.one_of(
    st.integers(),
    st.floats(),
    st.binary(max_size=5),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.lists(st.one_of(st.integers(), st.none(), st.binary(max_size=3)), min_size=1, max_size=3),
    st.builds(_Opaque),
)


def _words(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    return [w for item in items if (w := item.strip().lower())]


@settings(max_examples=200, deadline=None)
@given(
    option=st.sampled_from(["algorithm", "algorithm_streaming"]),
    value=st.one_of(word_lists, not_word_lists),
)
def test_algorithm_options_accept_known_codings_only(option: str, value: Any) -> None:
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        if not _words(value):  # an empty list would compress nothing: an error
            _fails_naming(option, value, ValueError)
        elif set(_words(value)) <= KNOWN_CODINGS:
            _construct(option, value)
        else:
            _fails_naming(option, value, ValueError)
    else:
        _fails_naming(option, value, TypeError)


def test_algorithm_none_is_a_type_error_but_streaming_none_means_same_as_algorithm() -> None:
    _fails_naming("algorithm", None, TypeError)
    middleware = CompressMiddleware(_noop_app(), algorithm="br", algorithm_streaming=None)
    assert middleware.settings.algorithm_streaming == ("br",)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")


def _is_media_range(word: str) -> bool:
    """``type/subtype``, ``type/*``, ``*/*`` or a suffix pattern (``*/*+json``,
    ``application/*+xml``) with RFC 9110 tokens (section 8.3.1); a ``*`` anywhere else is a
    mistyped wildcard."""
    major, slash, minor = word.partition("/")
    wildcard, plus, suffix = minor.partition("+") if minor.startswith("*") else ("", "", "")
    return bool(
        slash
        and (major == "*" or (_TOKEN.fullmatch(major) and "*" not in major))
        and (
            (minor.startswith("*") and wildcard == "*" and (not plus or _plain_token(suffix)))
            or (major != "*" and _plain_token(minor))
        )
    )


def _plain_token(word: str) -> bool:
    return bool(_TOKEN.fullmatch(word)) and "*" not in word


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.lists(
            st.one_of(
                st.sampled_from(["text/html", "Text/CSS", "text/*", "application/vnd.api+json"]),
                st.sampled_from(["*/*", "text", "/html", "text/", "text/html; charset=utf-8"]),
                st.from_regex(r"[a-z*]{1,6}/[a-z+*.]{1,8}", fullmatch=True),
            ),
            max_size=4,
        ),
        st.text(alphabet="abcx/*+;, \t", max_size=20),
        not_word_lists,
    )
)
def test_mimetypes_accept_media_types_only(value: Any) -> None:
    if not (isinstance(value, (str, list)) and all(isinstance(v, str) for v in value)):
        _fails_naming("mimetypes", value, TypeError)
        return
    words = _words(value)
    if all(_is_media_range(w) for w in words):
        _construct("mimetypes", value)
    elif any(_is_malformed(w) for w in words):
        _fails_naming("mimetypes", value, ValueError)
    else:
        # Non-token characters (RFC 9110 section 8.3.1): never a media type, so refused too;
        # see test_mimetypes_that_are_not_media_types_fail_naming_the_option.
        _fails_naming("mimetypes", value, ValueError)


def _is_malformed(word: str) -> bool:
    """Not even ``something/something``: no slash, an empty side, a parameter, ``*/...``."""
    major, slash, minor = word.partition("/")
    return (
        not (slash and major and minor)
        or ";" in word
        or (major == "*" and not minor.startswith("*"))
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(["text/html application/json"], id="two-types-one-string"),
        pytest.param(["text/html;"], id="trailing-semicolon"),
        pytest.param(["text/ht ml"], id="space-in-subtype"),
        pytest.param(["text/html/extra"], id="two-slashes"),
        pytest.param(["te(x)t/html"], id="separator-in-type"),
        pytest.param(["text/*html"], id="star-in-subtype"),
    ],
)
def test_mimetypes_that_are_not_media_types_fail_naming_the_option(value: list[str]) -> None:
    # A typo here would silently stop compressing a whole family of responses.
    _fails_naming("mimetypes", value, ValueError)


@settings(max_examples=100, deadline=None)
@given(name=st.text(min_size=1, max_size=20))
def test_unknown_option_fails_naming_it(name: str) -> None:
    if name in Options.__annotations__ or name in _MIDDLEWARE_OWN:
        return
    _fails_naming(name, 1, TypeError)


# The middleware's own keyword options, beside the COMPRESS_* ones (Options): known names.
_MIDDLEWARE_OWN = frozenset(inspect.signature(CompressMiddleware).parameters) - {"options"}


@pytest.mark.parametrize("option", ["dictionaries", "dictionary_paths"])
def test_a_dictionary_option_that_is_not_iterable_fails_naming_it(option: str) -> None:
    _fails_naming(option, 1, TypeError)
