"""The dictionary options of the middleware, validated once, and the dictionaries we serve.

Two sources of dictionaries (RFC 9842 section 2.1):

- ``dictionary_paths``: patterns whose responses become dictionaries. The middleware adds
  ``Use-As-Dictionary: match="<pattern>"`` (keeping the app's own header when it set one) and
  keeps the body under its SHA-256. A versioned bundle is the first use: with
  ``"/static/app.*.js"``, ``app.v1.js`` is the dictionary for ``app.v2.js``.
- ``dictionaries``: :class:`ProvidedDictionary` objects, given as bytes or read from a file
  (``python -m asgi_compress train-dictionary`` makes one from sample responses). Each is
  served by the middleware at its ``url_path`` with ``Use-As-Dictionary``, and announced on
  HTML responses with ``Link: <url_path>; rel="compression-dictionary"`` (RFC 9842
  section 3) so the browser fetches it when idle.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from .._types import Headers
from ..cache import CacheBackend
from ..http._urlpattern import MatchPattern
from ._layer import DczOutcomes
from ._store import Dictionary, DictionaryStore
from .transport import MAX_DICTIONARY_SIZE, use_as_dictionary

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing has it from 3.11; we support 3.10

__all__ = [
    "DEFAULT_DCZ_LEVEL",
    "DEFAULT_DICTIONARY_MAX_BYTES",
    "DEFAULT_DICTIONARY_MAX_COUNT",
    "DictionaryOptions",
    "DictionarySettings",
    "ProvidedDictionary",
]

_ZSTD_LEVELS = (1, 22)
# The defaults of the middleware's dictionary options, written once: CompressMiddleware's
# signature (what users and the options reference see) and from_options both read them.
DEFAULT_DCZ_LEVEL = 3
DEFAULT_DICTIONARY_MAX_COUNT = 64
DEFAULT_DICTIONARY_MAX_BYTES = 64 * 1024 * 1024


class DictionaryOptions(TypedDict, total=False):
    """The dictionary keyword options of :class:`~asgi_compress.CompressMiddleware`, which
    passes them along to :meth:`DictionarySettings.from_options` as given."""

    dictionary_paths: str | Iterable[str]
    dictionaries: Iterable[ProvidedDictionary]
    dcz_level: int
    dictionary_max_count: int
    dictionary_max_bytes: int
    dictionary_cache: CacheBackend | None


@dataclass(frozen=True)
class ProvidedDictionary:
    """A dictionary we provide: its bytes, where we serve it, and the requests it serves.

    Args:
        data: the dictionary's bytes (a trained zstd dictionary or any raw bytes).
        match: the RFC 9842 ``match`` pattern of the requests it compresses (``"/api/*"``).
        url_path: where the middleware serves it (default: a path under ``/_dictionaries/``
            named by its hash, so a new dictionary gets a new URL).
        id: the optional RFC 9842 ``id``; the browser echoes it as ``Dictionary-ID``.
        max_age: how long the browser may keep it, in seconds (``Cache-Control: max-age``).

    Raises:
        TypeError: ``data`` is not bytes.
        ValueError: empty or over 100 MiB, a ``match``/``url_path`` outside the supported
            pattern subset, or a bad ``id``/``max_age``.

    Example:
        >>> d = ProvidedDictionary.from_file("api.dict", match="/api/*")  # doctest: +SKIP
    """

    data: bytes
    match: str
    url_path: str = ""
    id: str = ""
    max_age: int = 7 * 24 * 3600
    dictionary: Dictionary = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise TypeError(f"dictionary data must be bytes, got {type(self.data).__name__}")
        data = bytes(self.data)
        if not 0 < len(data) <= MAX_DICTIONARY_SIZE:
            raise ValueError(f"a dictionary holds 1 to {MAX_DICTIONARY_SIZE} bytes")
        use_as_dictionary(self.match, id=self.id)  # validates match and id
        if not isinstance(self.max_age, int) or isinstance(self.max_age, bool):
            raise TypeError(f"max_age must be an int, got {self.max_age!r}")
        if self.max_age <= 0:
            raise ValueError("max_age must be > 0: a dictionary must be fresh to be used")
        dictionary = Dictionary.from_bytes(data, match=self.match, id=self.id)
        url_path = self.url_path or f"/_dictionaries/{dictionary.sha256.hex()[:16]}.dict"
        if MatchPattern.compile(url_path).pattern != url_path or "*" in url_path:
            raise ValueError(f"url_path {url_path!r} must be a literal path")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "url_path", url_path)
        object.__setattr__(self, "dictionary", dictionary)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> ProvidedDictionary:
        """Read a dictionary from a file; other arguments as for the constructor."""
        with open(path, "rb") as file:
            return cls(file.read(), **kwargs)

    def response_headers(self) -> Headers:
        """The head of the response that serves this dictionary at ``url_path``.

        Cacheable and fresh (RFC 9842 section 2.2.1), announced with ``Use-As-Dictionary``,
        with a strong ETag from its hash; its coding is negotiated like any response's.
        """
        return [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", b"%d" % len(self.data)),
            (b"cache-control", b"public, max-age=%d" % self.max_age),
            (b"etag", b'"%s"' % self.dictionary.sha256.hex().encode()),
            (b"use-as-dictionary", use_as_dictionary(self.match, id=self.id)),
        ]


@dataclass(frozen=True)
class DictionarySettings:
    """The validated dictionary options; build it with :meth:`from_options`.

    ``store`` holds the dictionaries taken from responses; provided ones are looked up first
    and never evicted. ``outcomes``: which coding GET answers went out in, for HEAD.
    """

    patterns: tuple[MatchPattern, ...] = ()
    provided: tuple[ProvidedDictionary, ...] = ()
    level: int = 3
    store: DictionaryStore = field(default_factory=DictionaryStore, compare=False)
    outcomes: DczOutcomes = field(default_factory=DczOutcomes, compare=False)

    @classmethod
    def from_options(cls, **options: Unpack[DictionaryOptions]) -> DictionarySettings:
        """Validate the dictionary options (middleware spelling); errors name the option.
        An option left out takes the middleware's default.

        Raises:
            TypeError: a value of the wrong type.
            ValueError: a pattern outside the supported subset, a level out of 1-22, a
                bound below 0, two provided dictionaries at one ``url_path``.
        """
        dictionary_paths = options.get("dictionary_paths", ())
        dcz_level = options.get("dcz_level", DEFAULT_DCZ_LEVEL)
        if isinstance(dictionary_paths, str):
            dictionary_paths = [dictionary_paths]
        try:
            patterns = [MatchPattern.compile(pattern) for pattern in dictionary_paths]
        except (TypeError, ValueError) as error:
            raise type(error)(f"dictionary_paths: {error}") from None
        try:
            provided = tuple(options.get("dictionaries", ()))
        except TypeError:
            given = options.get("dictionaries")
            raise TypeError(
                f"dictionaries: expected an iterable of ProvidedDictionary objects, got {given!r}"
            ) from None
        for item in provided:
            if not isinstance(item, ProvidedDictionary):
                raise TypeError(f"dictionaries: expected ProvidedDictionary objects, got {item!r}")
        paths = [item.url_path for item in provided]
        if len(set(paths)) != len(paths):
            raise ValueError("dictionaries: two dictionaries are served at the same url_path")
        if not isinstance(dcz_level, int) or isinstance(dcz_level, bool):
            raise TypeError(f"dcz_level must be an int, got {dcz_level!r}")
        if not _ZSTD_LEVELS[0] <= dcz_level <= _ZSTD_LEVELS[1]:
            raise ValueError(f"dcz_level must be in 1..22, got {dcz_level}")
        try:
            store = DictionaryStore(
                max_count=options.get("dictionary_max_count", DEFAULT_DICTIONARY_MAX_COUNT),
                max_bytes=options.get("dictionary_max_bytes", DEFAULT_DICTIONARY_MAX_BYTES),
                backend=options.get("dictionary_cache"),
            )
        except ValueError as error:
            raise ValueError(f"dictionary_{error}") from None
        except TypeError as error:
            raise TypeError(f"dictionary_cache: {error}") from None
        return cls(tuple(patterns), provided, dcz_level, store)

    @property
    def enabled(self) -> bool:
        """Whether any dictionary can exist: without one, requests skip all of this."""
        return bool(self.patterns or self.provided)

    def served_at(self, path: str) -> ProvidedDictionary | None:
        """The provided dictionary served at this request path, if any."""
        for item in self.provided:
            if item.url_path == path:
                return item
        return None

    def link_header(self) -> tuple[bytes, bytes] | None:
        """``Link: <...>; rel="compression-dictionary"`` for HTML responses (RFC 9842
        section 3), naming every provided dictionary; ``None`` when there is none."""
        if not self.provided:
            return None
        links = ", ".join(f'<{p.url_path}>; rel="compression-dictionary"' for p in self.provided)
        return (b"link", links.encode("ascii"))

    async def lookup(self, sha256: bytes | None) -> Dictionary | None:
        """The dictionary with this hash: a provided one, else one from the store."""
        if sha256 is None:
            return None
        for item in self.provided:
            if item.dictionary.sha256 == sha256:
                return item.dictionary
        return await self.store.get(sha256)
