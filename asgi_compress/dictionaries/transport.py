"""Compression Dictionary Transport (RFC 9842): which dictionary a response uses, if any.

Pure functions and value objects, no I/O; the responder carries the decisions out:

- :class:`DictionaryRequest`, built once per request from its headers: does the client accept
  ``dcz``, which dictionary does it hold (``Available-Dictionary``, ``Dictionary-ID``).
- :func:`choose_dictionary`: given that request, the response head and the dictionary the
  store found for the client's hash, the dictionary to compress with, or ``None`` to fall back
  to ordinary negotiation.
- :func:`is_dictionary_candidate`: whether a response becomes a dictionary (and with which
  ``Use-As-Dictionary``), by the rules that protect users.
- :class:`~asgi_compress.codecs._dcz.DczEncoder`: the ``dcz`` coding itself, re-exported here.

The rules, and where each comes from:

- Same origin only: ``match`` patterns are same-origin paths (RFC 9842 section 2.2.2;
  :mod:`asgi_compress.http._urlpattern` refuses anything else at configuration).
- A dictionary must be cacheable and fresh for the client to keep it (section 2.2.1): we
  mark only 200 responses to GET with ``max-age`` > 0 and without ``no-store``/``no-cache``.
- No dictionary from, and no dictionary compression of, a response that is per user
  (``private``, ``no-store``, ``Set-Cookie``): section 9.2 warns against compressing private
  data with or into public dictionaries (CRIME). No dictionary from a request carrying
  ``Authorization`` either (RFC 9111 section 3.5): the store is shared by every client, and a
  client that guesses a private body's hash would see dcz answers confirm the guess.
- Dictionaries of at most 100 MiB: Chromium's ``kDictionarySizeLimit``; bigger ones are never
  offered back, so keeping them costs memory for nothing.
- ``id`` and ``Dictionary-ID`` at most 1024 characters (sections 2.1.3 and 2.3); a request
  whose ``Dictionary-ID`` differs from the dictionary's ``id`` is not compressed with it.
- The hash is checked before use (section 9.1): dictionaries are found by their SHA-256.
- Answers vary on both headers (section 6.2): :data:`DICTIONARY_VARY`.
- RFC 9842 section 8 allows dictionary transport over HTTPS only (browsers count
  ``localhost`` as secure). The client enforces that; a middleware behind a TLS proxy cannot
  tell, so it does not try.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._types import Scope
from ..codecs._dcz import DCZ_MAGIC, DczEncoder, dcz_header, dcz_window_log
from ..http import _sf
from ..http._memo import Memo
from ..http._urlpattern import MatchPattern
from ..http.negotiation import AcceptEncoding
from ._store import Dictionary, DictionaryStore
from ._train import train_dictionary

__all__ = [
    "DCZ",
    "DCZ_MAGIC",
    "DICTIONARY_VARY",
    "MAX_DICTIONARY_SIZE",
    "MAX_ID_LENGTH",
    "DczEncoder",
    "Dictionary",
    "DictionaryMark",
    "DictionaryRequest",
    "DictionaryStore",
    "MatchPattern",
    "ResponseFacts",
    "choose_dictionary",
    "dcz_etag_token",
    "dcz_header",
    "dcz_window_log",
    "is_dictionary_candidate",
    "parse_available_dictionary",
    "parse_dictionary_id",
    "train_dictionary",
    "use_as_dictionary",
]

DCZ = "dcz"
"""The content coding token of Dictionary-Compressed Zstandard (RFC 9842 section 5)."""

DICTIONARY_VARY = (b"vary", b"accept-encoding, available-dictionary")
"""The Vary line of every dcz answer (RFC 9842 section 6.2)."""

MAX_DICTIONARY_SIZE = 100 * 1024 * 1024
"""Chromium never offers a dictionary larger than this (``kDictionarySizeLimit``)."""

MAX_ID_LENGTH = 1024
"""RFC 9842 sections 2.1.3 and 2.3: ``id`` and ``Dictionary-ID`` are at most 1024 characters."""


# -- the headers -------------------------------------------------------------------------------


def parse_available_dictionary(values: Iterable[bytes]) -> bytes | None:
    """The SHA-256 an ``Available-Dictionary`` names, or ``None``.

    Args:
        values: every ``Available-Dictionary`` line of the request.

    Returns:
        The 32 bytes, when there is exactly one line holding an sf-binary of 32 bytes
        (RFC 9842 section 2.2: one header, one hash); ``None`` for anything else, which is
        ignored as RFC 9651 section 4.2 says a field that fails to parse is.
    """
    lines = list(values)
    if len(lines) != 1:
        return None
    digest = _sf.parse_byte_sequence(lines[0])
    return digest if digest is not None and len(digest) == 32 else None


def parse_dictionary_id(values: Iterable[bytes]) -> str | None:
    """The ``Dictionary-ID`` (an sf-string of at most 1024 characters, RFC 9842 section 2.3),
    or ``None`` when absent, repeated or malformed."""
    lines = list(values)
    if len(lines) != 1:
        return None
    text = _sf.parse_string(lines[0])
    return text if text is not None and len(text) <= MAX_ID_LENGTH else None


def use_as_dictionary(match: str, *, match_dest: Iterable[str] = (), id: str = "") -> bytes:
    """A ``Use-As-Dictionary`` value (RFC 9842 section 2.1): an sf-dictionary with ``match``,
    the optional ``match-dest`` and ``id``, and ``type=raw``.

    Raises:
        ValueError: ``match`` outside the supported pattern subset, or an ``id`` too long or
            with characters an sf-string cannot carry.

    Example:
        >>> use_as_dictionary("/static/app.*.js", id="app")
        b'match="/static/app.*.js", id="app", type=raw'
    """
    MatchPattern.compile(match)
    parts = [f"match={_sf.serialize_string(match)}"]
    destinations = list(match_dest)
    if destinations:
        parts.append(f"match-dest={_sf.serialize_inner_list(destinations)}")
    if id:
        if len(id) > MAX_ID_LENGTH:
            raise ValueError(f"a dictionary id is at most {MAX_ID_LENGTH} characters")
        parts.append(f"id={_sf.serialize_string(id)}")
    parts.append("type=raw")  # section 2.1.4: the only defined format
    return ", ".join(parts).encode("ascii")


def dcz_etag_token(dictionary: Dictionary) -> str:
    """The ETag suffix of a dcz representation: ``dcz-`` and 16 hex digits of the hash.

    Each dictionary makes a different representation, which a strong ETag must tell apart
    (RFC 9110 section 8.8.3); ``"abc:dcz-1f2e..."`` does, where ``"abc:dcz"`` would not.
    """
    return f"{DCZ}-{dictionary.sha256.hex()[:16]}"


# -- the request and the response head ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DictionaryRequest:
    """What dictionary transport needs from a request, read once from its scope.

    ``path`` is the path as sent (percent-encoded, without the query), what URLPattern
    matches against (RFC 9842 section 2.2.2). ``authorized``: the request carries
    ``Authorization``, so its response is taken as per user.
    """

    method: str
    path: str
    accepts_dcz: bool
    available: bytes | None = None
    dictionary_id: str | None = None
    authorized: bool = False

    @classmethod
    def from_scope(cls, scope: Scope) -> DictionaryRequest:
        """Read the request's method, path and dictionary headers; malformed ones are ignored."""
        accept: list[bytes] = []
        available: list[bytes] = []
        ids: list[bytes] = []
        authorized = False
        for name, value in scope.get("headers", ()):
            name = name.lower()
            if name == b"accept-encoding":
                accept.append(value)
            elif name == b"available-dictionary":
                available.append(value)
            elif name == b"dictionary-id":
                ids.append(value)
            elif name == b"authorization":
                authorized = True
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else str(scope.get("path", "/"))
        header = b",".join(accept).decode("latin-1")
        return cls(
            method=str(scope.get("method", "GET")),
            path=path.partition("?")[0],
            accepts_dcz=bool(accept) and AcceptEncoding.from_header(header).quality(DCZ) > 0,
            available=parse_available_dictionary(available),
            dictionary_id=parse_dictionary_id(ids),
            authorized=authorized,
        )


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What the dictionary rules need from a response head, read in one pass."""

    max_age: int | None = None
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    sets_cookie: bool = False
    encoded: bool = False
    partial: bool = False
    use_as_dictionary: bytes | None = None

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[bytes, bytes]]) -> ResponseFacts:
        """Read the cache, cookie, coding and Use-As-Dictionary headers of a response."""
        max_age: int | None = None
        flags: set[str] = set()
        use_as_dictionary: bytes | None = None
        for name, value in headers:
            name = name.lower()
            if name == b"cache-control":
                for directive in value.lower().split(b","):
                    key, _, argument = directive.strip().partition(b"=")
                    if key in (b"no-store", b"no-cache", b"private"):
                        flags.add(key.decode())
                    elif key == b"max-age":
                        argument = argument.strip(b'" ')
                        max_age = int(argument) if argument.isdigit() else 0
            elif name == b"set-cookie":
                flags.add("set-cookie")
            elif name == b"content-encoding":
                flags.add("content-encoding")
            elif name == b"content-range":
                flags.add("content-range")
            elif name == b"use-as-dictionary":
                use_as_dictionary = value
        return cls(
            max_age=max_age,
            no_store="no-store" in flags,
            no_cache="no-cache" in flags,
            private="private" in flags,
            sets_cookie="set-cookie" in flags,
            encoded="content-encoding" in flags,
            partial="content-range" in flags,
            use_as_dictionary=use_as_dictionary,
        )

    @property
    def per_user(self) -> bool:
        """A response only for this client: never a dictionary, never dictionary-compressed
        (RFC 9842 section 9.2)."""
        return self.private or self.no_store or self.sets_cookie


# -- the decisions ---------------------------------------------------------------------------


def _pattern(match: str) -> MatchPattern | None:
    return _PATTERNS.answer(match, _compile_pattern)


def _compile_pattern(match: str) -> MatchPattern | None:
    try:
        return MatchPattern.compile(match)
    except ValueError:
        return None


_PATTERNS: Memo[str, MatchPattern | None] = Memo(256)
"""The match patterns of the dictionaries seen, compiled once (an invalid one as None)."""


def choose_dictionary(
    request: DictionaryRequest,
    response: ResponseFacts,
    found: Dictionary | None,
    *,
    excluded: bool = False,
) -> Dictionary | None:
    """The dictionary to compress this response with (as ``dcz``), or ``None``.

    Args:
        request: the request's view (:meth:`DictionaryRequest.from_scope`).
        response: the response head's facts (:meth:`ResponseFacts.from_headers`).
        found: what the store holds under ``request.available`` (the caller looks it up once,
            ``await store.get(request.available)``, before the app answers).
        excluded: the response is not to be compressed at all (policy, media type, size).

    Returns:
        ``found`` when every rule allows it; ``None`` means ordinary negotiation.

    Example:
        >>> d = Dictionary.from_bytes(b"...", match="/app.*.js")
        >>> r = DictionaryRequest("GET", "/app.2.js", True, d.sha256)
        >>> choose_dictionary(r, ResponseFacts(), d) is d
        True
    """
    if (
        excluded
        or found is None
        or not request.accepts_dcz  # RFC 9110 section 12.5.3: a coding the client accepts
        or request.available != found.sha256  # section 2.2: the hash the client holds
        or (found.id and request.dictionary_id != found.id)  # section 2.3
        or response.per_user  # section 9.2
        or response.encoded
        or response.partial
    ):
        return None
    if found.match is not None:
        # Section 2.2.2: the client matched the path already; checking again keeps a
        # dictionary to the paths it was announced for, whatever a client claims.
        pattern = _pattern(found.match)
        if pattern is None or not pattern.matches(request.path):
            return None
    return found


@dataclass(frozen=True, slots=True)
class DictionaryMark:
    """How a response becomes a dictionary: its ``match`` and ``id``, and the
    ``Use-As-Dictionary`` line to add (``None`` when the app set its own, which is kept)."""

    match: str
    id: str = ""
    header: tuple[bytes, bytes] | None = None


def is_dictionary_candidate(
    request: DictionaryRequest,
    status: int,
    response: ResponseFacts,
    patterns: Iterable[MatchPattern],
    *,
    body_size: int | None = None,
    max_size: int = MAX_DICTIONARY_SIZE,
) -> DictionaryMark | None:
    """Whether this response becomes a dictionary, and how it is announced.

    Args:
        request: the request's view.
        status: the response status.
        response: the response head's facts.
        patterns: the configured ``dictionary_paths``; the first that matches the request
            path becomes the response's ``match``.
        body_size: the identity body's length once known (``None``: not known yet; call again
            with it before storing).
        max_size: the largest dictionary to keep (the store's byte bound, at most 100 MiB).

    Returns:
        A :class:`DictionaryMark`, or ``None`` when the response must not be a dictionary.
    """
    if (
        request.method != "GET"  # only a GET's body is what the client stores
        or request.authorized  # per user: RFC 9111 section 3.5 keeps it from shared caches
        or status != 200  # a complete representation (RFC 9111 section 3)
        or response.encoded  # the app's own coding: we never see the identity bytes
        or response.partial
        or response.per_user  # RFC 9842 section 9.2
        or response.no_cache  # section 2.2.1: never fresh for the client; Chromium refuses it
        or not response.max_age  # section 2.2.1: a dictionary must be fresh to be used
        or (body_size is not None and not 0 < body_size <= min(max_size, MAX_DICTIONARY_SIZE))
    ):
        return None
    if response.use_as_dictionary is not None:
        # The app announced it itself: keep its header; store it only if we can read it.
        members = _sf.split_dictionary_members(response.use_as_dictionary.decode("latin-1"))
        match = _sf.parse_string(members.get("match", "").encode("latin-1"))
        raw_id = members.get("id")
        id = _sf.parse_string(raw_id.encode("latin-1")) if raw_id is not None else ""
        if match is None or id is None or members.get("type", "raw") != "raw":
            return None
        if _pattern(match) is None:
            return None  # not a path pattern of ours: we could not tell which requests use it
        return DictionaryMark(match, id)
    for pattern in patterns:
        if pattern.matches(request.path):
            header = (b"use-as-dictionary", use_as_dictionary(pattern.pattern))
            return DictionaryMark(pattern.pattern, "", header)
    return None
