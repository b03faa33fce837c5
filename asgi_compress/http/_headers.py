"""Pure functions over ASGI header lists: reading a response head, editing it, and the
request validators that carry our ETag suffix. Names are compared case-insensitively
everywhere (RFC 9110 section 5.1)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

from .._types import Headers

__all__ = [
    "VARY_HEADER",
    "ResponseHead",
    "compressed_headers",
    "not_modified_headers",
    "held_token",
    "precondition_status",
    "strip_validator_suffixes",
    "suffix_etag",
    "validator_answer_headers",
    "with_vary",
]

_VARY_VALUE = b"Accept-Encoding"
VARY_HEADER = (b"vary", _VARY_VALUE)


class ResponseHead:
    """What the compress-or-pass decision needs from ``http.response.start`` headers, read
    in one pass. Class-level defaults: only the headers present cost an assignment."""

    content_length: int | None = None
    encoded = False  # any Content-Encoding, even "identity", means "leave me alone"
    etag: bytes | None = None
    last_modified: bytes | None = None
    media_type = ""
    needs_vary = True
    no_transform = False
    partial = False  # Content-Range: the body is a slice of the identity bytes

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        for name, value in headers:
            if not name.islower():
                name = name.lower()
            if name == b"content-type":
                media_type = _MEDIA_TYPES.get(value)
                if media_type is None:
                    media_type = _media_type(value)
                self.media_type = media_type
            elif name == b"content-length":
                # RFC 9110 section 8.6: 1*DIGIT. More than 18 digits is no real length (and
                # int() refuses thousands): such a head is treated as having none.
                value = value.strip()
                if value.isdigit() and len(value) <= 18:
                    self.content_length = int(value)
            elif name == b"content-encoding":
                self.encoded = True
            elif name == b"vary":
                if self.needs_vary and _lists_ae_or_star(value):
                    self.needs_vary = False
            elif name == b"cache-control":
                self.no_transform = self.no_transform or _has_no_transform(value)
            elif name == b"content-range":
                self.partial = True
            elif name == b"etag":
                self.etag = value
            elif name == b"last-modified":
                self.last_modified = value


# Content-Type values repeat (an app has a handful), so their parsed form is remembered;
# bounded, since the values come from the app and could in principle vary without end.
_MEDIA_TYPES: dict[bytes, str] = {}


def _media_type(content_type: bytes) -> str:
    media_type = content_type.partition(b";")[0].strip().lower().decode("latin-1")
    if len(_MEDIA_TYPES) >= 256:
        _MEDIA_TYPES.clear()
    _MEDIA_TYPES[content_type] = media_type
    return media_type


def _lists_ae_or_star(vary: bytes) -> bool:
    return any(v.strip().lower() in (b"accept-encoding", b"*") for v in vary.split(b","))


def _has_no_transform(cache_control: bytes) -> bool:
    return any(
        d.partition(b"=")[0].strip().lower() == b"no-transform" for d in cache_control.split(b",")
    )


def with_vary(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The headers with ``Vary: Accept-Encoding`` added unless Vary already lists it or ``*``.

    Existing Vary lines are kept as they are; the value goes on a line of its own, which
    RFC 9110 section 5.3 makes equivalent to appending it to a list.
    """
    # A plain loop, no generator and no lowered copy of every name: this runs for every
    # response that passes (the small path).
    result = list(headers)
    for name, value in result:
        if len(name) == 4 and name.lower() == b"vary" and _lists_ae_or_star(value):
            return result
    result.append(VARY_HEADER)
    return result


def compressed_headers(
    headers: Iterable[tuple[bytes, bytes]],
    encoding: str,
    *,
    content_length: int | None,
    needs_vary: bool,
    etag: bytes | None = None,
) -> Headers:
    """The response head for an encoded body.

    Sets Content-Encoding; sets Content-Length to the encoded length or removes it; removes
    Accept-Ranges (ranges would address the identity bytes); replaces the ETag with ``etag``,
    the encoded representation's own (RFC 9110 section 8.8.3: see :func:`suffix_etag`).
    """
    result: Headers = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length" or lowered == b"accept-ranges":
            continue
        if lowered == b"etag" and etag is not None:
            value = etag
        result.append((name, value))
    result.append((b"content-encoding", encoding.encode("latin-1")))
    if content_length is not None:
        result.append((b"content-length", b"%d" % content_length))
    if needs_vary:
        result.append(VARY_HEADER)
    return result


def suffix_etag(etag: bytes, token: bytes, *, weak: bool = False) -> bytes:
    """The validator of the representation encoded with ``token``: ``"abc"`` -> ``"abc:br"``
    (``W/"abc:br"`` when ``weak``). Weak tags, which every coding may share, and malformed
    ones are returned unchanged.

    An unquoted tag (``abc``: BlackSheep sends its files' mtime so, against RFC 9110 section
    8.8.3) is read as the opaque-tag it spells, ``"abc"``, so that the encoded representation
    still gets a validator of its own.
    """
    opaque = _strong_opaque(etag)
    if opaque is None:
        return etag.strip()
    return (b'W/"' if weak else b'"') + opaque + b":" + token + b'"'


# RFC 9110 section 8.8.3: etagc = %x21 / %x23-7E / obs-text (no space, no DQUOTE).
_UNQUOTED = re.compile(rb"[\x21\x23-\x7e\x80-\xff]+")


def _strong_opaque(etag: bytes) -> bytes | None:
    """The opaque text of a strong tag, quoted (``"abc"``) or not (``abc``); ``None`` for a
    weak or malformed one."""
    etag = etag.strip()
    if len(etag) >= 2 and etag[0] == 0x22 and etag[-1] == 0x22:
        opaque = etag[1:-1]
        return None if b'"' in opaque else opaque
    if etag.startswith(b"W/") or _UNQUOTED.fullmatch(etag) is None:
        return None
    return etag


def strip_validator_suffixes(
    value: bytes, tokens: Iterable[str], stripped: dict[bytes, bytes]
) -> bytes:
    """Remove our ``:<coding>`` suffix from the entity-tags of If-None-Match or If-Match.

    Only the codings in ``tokens`` (those this request would be encoded with) are stripped:
    a tag for another coding names a representation the client will not get, so it must not
    match. A ``W/`` before a suffixed tag goes too: we weakened the app's strong tag (cache
    levels, BREACH padding), so the app gets back the tag it issued, and its own If-Match
    (a strong comparison, RFC 9110 section 13.1.1) still matches. Each stripped tag is
    recorded in ``stripped`` as ``b'"abc"' -> b"br"`` (its suffix), so that a 304 can be
    given the validator of the representation the client holds.
    """
    pattern = _suffix_pattern(tuple(tokens))

    def strip(match: re.Match[bytes]) -> bytes:
        base = b'"' + match.group(1) + b'"'
        stripped.setdefault(base, match.group(2))
        return base

    return pattern.sub(strip, value)


_PATTERNS: dict[tuple[str, ...], re.Pattern[bytes]] = {}


def _suffix_pattern(tokens: tuple[str, ...]) -> re.Pattern[bytes]:
    pattern = _PATTERNS.get(tokens)
    if pattern is None:
        alternatives = b"|".join(re.escape(t.encode()) for t in tokens)
        pattern = re.compile(rb'(?:W/)?"([^"]*):(' + alternatives + rb')"')
        _PATTERNS[tokens] = pattern
    return pattern


def held_token(etag: bytes, stripped: Mapping[bytes, bytes]) -> bytes | None:
    """The suffix of the validator the client sent for the app's ``etag``, when we stripped
    one (see :func:`strip_validator_suffixes`); ``None`` otherwise. An unquoted app tag is
    looked up as the opaque-tag it spells, as :func:`suffix_etag` reads it."""
    opaque = _strong_opaque(etag)
    return None if opaque is None else stripped.get(b'"' + opaque + b'"')


def precondition_status(
    validators: Mapping[bytes, bytes], etag: bytes | None, last_modified: bytes | None
) -> int | None:
    """Evaluate a GET/HEAD's preconditions against the representation we are about to send.

    RFC 9110 section 13.2.2 order: If-Match (strong comparison) fails with 412; then
    If-None-Match (weak comparison) matches with 304; If-Modified-Since is only consulted
    without If-None-Match. ``validators`` holds the request's header values as the client
    sent them (suffixes included), ``etag`` the ETag the encoded response will carry.

    Returns:
        412, 304, or ``None`` to send the response.
    """
    if_match = validators.get(b"if-match")
    if (
        if_match is not None
        and if_match.strip() != b"*"
        and (etag is None or etag.startswith(b"W/") or etag not in _tags(if_match))
    ):
        return 412
    if_none_match = validators.get(b"if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == b"*":
            return 304
        if etag is not None and _opaque(etag) in {_opaque(t) for t in _tags(if_none_match)}:
            return 304
        return None
    since = validators.get(b"if-modified-since")
    if since is not None and last_modified is not None:
        try:
            if parsedate_to_datetime(last_modified.decode("latin-1")) <= parsedate_to_datetime(
                since.decode("latin-1")
            ):
                return 304
        except (TypeError, ValueError):
            return None  # an unparseable date is ignored (RFC 9110 section 13.1.3)
    return None


# RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, and etagc admits
# commas, so a list of tags cannot be split on commas.
_ENTITY_TAG = re.compile(rb'(?:W/)?"[^"]*"')


def _tags(value: bytes) -> list[bytes]:
    return _ENTITY_TAG.findall(value)


def _opaque(tag: bytes) -> bytes:
    return tag[2:] if tag.startswith(b"W/") else tag


# Representation metadata a 304 leaves out; ETag, Vary, Cache-Control, Date, Expires and
# Content-Location stay (RFC 9110 section 15.4.5), and so does Last-Modified, which that
# section names as useful to caches updating a stored response.
_NOT_IN_304 = frozenset(
    (
        b"content-encoding",
        b"content-length",
        b"content-type",
        b"content-range",
        b"content-language",
        b"content-md5",
        b"accept-ranges",
        b"allow",
        b"transfer-encoding",
    )
)


def not_modified_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The headers of a 304 made from a 200's: representation metadata removed."""
    return [(n, v) for n, v in headers if n.lower() not in _NOT_IN_304]


def validator_answer_headers(
    status: int, headers: Iterable[tuple[bytes, bytes]], etag: bytes | None, *, needs_vary: bool
) -> Headers:
    """The head of a bodiless 304 or 412, ours or the app's, made from ``headers`` (the
    200's or the app's 304's): representation metadata removed, the ETag replaced with
    ``etag`` (the encoded representation's, when there is one), Vary merged.

    A 412 says the request's If-Match named no current representation, so it carries no
    validator of one, and its empty body its length (RFC 9110 section 15.5.13).
    """
    answer = not_modified_headers(headers)
    if status == 412:
        answer = [(n, v) for n, v in answer if n.lower() not in (b"etag", b"last-modified")]
        answer.append((b"content-length", b"0"))
    elif etag is not None:
        answer = [(n, etag if n.lower() == b"etag" else v) for n, v in answer]
    if needs_vary:
        answer.append(VARY_HEADER)
    return answer
