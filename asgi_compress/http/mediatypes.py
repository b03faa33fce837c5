"""Which media types are compressed: the two default lists, and the pattern matcher.

Patterns (RFC 9110 section 8.3.1 tokens, lowercase, no parameters):

- ``type/subtype``: that type exactly (``application/json``);
- ``type/*``: the whole family (``text/*``);
- ``*/*``: every type;
- ``type/*+suffix`` and ``*/*+suffix``: a structured-syntax suffix (RFC 6839), so
  ``*/*+json`` matches ``application/problem+json`` and ``application/geo+json``.

A type matches when an include pattern matches it and no exclude pattern does.
"""

from __future__ import annotations

import re

from ._memo import Memo

__all__ = [
    "DEFAULT_MIMETYPES",
    "FLASK_COMPRESS_MIMETYPES",
    "MediaTypeFilter",
    "check_media_pattern",
]

FLASK_COMPRESS_MIMETYPES = (
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "text/x-component",
    "text/javascript",
    "application/x-javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/vnd.api+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "font/ttf",
    "font/eot",
    "font/otf",
    "font/opentype",
)
"""Flask-Compress 1.25's ``COMPRESS_MIMETYPES``, in its order: the Quart extension's default."""

DEFAULT_MIMETYPES = (
    # Every text type (html, css, csv, markdown, calendar, event-stream...) and every
    # structured-syntax suffix of a text format (RFC 6839 section 3).
    "text/*",
    "*/*+json",
    "*/*+xml",
    "*/*+yaml",
    # Text formats registered without a suffix.
    "application/json",
    "application/x-ndjson",
    "application/jsonl",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/xml",
    "application/xml-dtd",
    "application/xml+rss",  # not a suffix, but nginx's stock config lists it
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/graphql",
    "application/sql",
    "application/x-httpd-cgi",
    "application/x-perl",
    "application/x-sh",
    # Binary formats that are not compressed already.
    "application/wasm",
    "application/x-protobuf",
    "application/vnd.google.protobuf",
    "multipart/bag",
    "multipart/mixed",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
    "image/x-ms-bmp",
    # Fonts that are not compressed already (woff and woff2 are).
    "font/ttf",
    "font/otf",
    "font/eot",
    "font/opentype",
    "font/collection",
    "font/sfnt",
    "application/vnd.ms-fontobject",
    "application/font-sfnt",
    "application/x-font-ttf",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/eot",
    "application/font",
    "application/opentype",
    "application/otf",
    "application/truetype",
    "application/ttf",
    "application/x-opentype",
    "application/x-otf",
    "application/x-ttf",
)
"""The middleware's default ``mimetypes``: every text format, and the binary ones that are not
compressed already. A superset of Flask-Compress's list, Caddy's and Cloudflare's defaults
(see docs/guides/compression.md). Extend it without retyping it::

    CompressMiddleware(app, mimetypes=[*DEFAULT_MIMETYPES, "application/x-tar"])
"""

# type "/" subtype, both RFC 9110 tokens without "*"; or a wildcard: "type/*", "*/*",
# "type/*+suffix", "*/*+suffix". A "*" anywhere else is a typo of a wildcard.
_TOKEN = r"[!#$%&'+\-.^_`|~0-9a-z]+"
_PATTERN = re.compile(rf"(?:{_TOKEN}|\*)/(?:{_TOKEN}|\*(?:\+{_TOKEN})?)")
_MEMO_LIMIT = 512  # distinct media types remembered per filter; apps send a handful


def check_media_pattern(pattern: str) -> bool:
    """Whether ``pattern`` (lowercase) is a valid media type pattern (see the module doc)."""
    if _PATTERN.fullmatch(pattern) is None:
        return False
    major, _, minor = pattern.partition("/")
    return major != "*" or minor.startswith("*")  # "*/html" names no family


class _Rules:
    """One side (include or exclude) of a filter, as sets for O(1) lookups."""

    __slots__ = ("exact", "families", "suffixes")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.exact: frozenset[str] = frozenset(p for p in patterns if "*" not in p)
        # "text/*" -> "text"; "*/*" -> "*".
        self.families = frozenset(p[:-2] for p in patterns if p.endswith("/*"))
        # "*/*+json" -> ("*", "+json"); "application/*+xml" -> ("application", "+xml").
        self.suffixes = frozenset(
            (p.partition("/")[0], p[p.index("*+") + 1 :]) for p in patterns if "*+" in p
        )

    def match(self, media_type: str) -> bool:
        if media_type in self.exact:
            return True
        major, slash, minor = media_type.partition("/")
        if not slash:
            return False
        if major in self.families or "*" in self.families:
            return True
        plus = minor.rfind("+")
        if plus < 0 or not self.suffixes:
            return False
        suffix = minor[plus:]
        return (major, suffix) in self.suffixes or ("*", suffix) in self.suffixes


class MediaTypeFilter:
    """Decides whether a media type is compressible: included and not excluded.

    Args:
        include: valid patterns (see :func:`check_media_pattern`).
        exclude: patterns that win over ``include``.

    Calls are memoized per media type (at most 512 remembered) in :attr:`known`, which a
    caller on the hot path may read first: one dict lookup.

    Example:
        >>> is_compressible = MediaTypeFilter(("text/*", "*/*+json"), ("text/event-stream",))
        >>> is_compressible("application/problem+json"), is_compressible("text/event-stream")
        (True, False)
    """

    __slots__ = ("_exclude", "_include", "known")

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...] = ()) -> None:
        self._include = _Rules(include)
        self._exclude = _Rules(exclude)
        self.known: Memo[str, bool] = Memo(_MEMO_LIMIT)
        """Media types already judged, and the answer (bounded)."""

    def __call__(self, media_type: str) -> bool:
        """Whether ``media_type`` (lowercase, no parameters) is compressible."""
        known = self.known.get(media_type)
        if known is not None:
            return known
        result = (
            bool(media_type)
            and self._include.match(media_type)
            and not self._exclude.match(media_type)
        )
        return self.known.keep(media_type, result)
