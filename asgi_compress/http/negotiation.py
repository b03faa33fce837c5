"""Accept-Encoding parsing and the choice of a content coding (RFC 9110 section 12.5.3).

Pure functions, no I/O. The rules, in the order they apply:

- The header is a comma-separated list of ``coding [; q=value]``; codings and parameter names
  are case-insensitive, whitespace around ``;`` and ``=`` is allowed, and several header lines
  are one list. ``x-gzip`` means ``gzip`` (RFC 9110 section 8.4.1.3).
- A q value must match the RFC's grammar (``0``, ``0.5``, ``1.000``...); an element whose q does
  not (``nan``, ``1.5``, ``0.5000``) is dropped as if absent, and so is an element that is not
  a token.
- ``q=0`` means "not acceptable". An explicit entry beats ``*``, whatever their q values:
  ``*, gzip;q=0`` never picks gzip; ``br;q=0.5, *`` gives br 0.5 and every other coding 1.
- The coding with the highest q wins; ties go to the server's preference order.
  ``identity`` competes too when the client states a preference for it (by name or via
  ``*``): if it is strictly preferred, nothing is compressed.
- A header over :data:`MAX_HEADER_LENGTH` characters asks for nothing: real clients send a few
  dozen characters, and parsing (and memoizing) a huge header is a cheap denial of service.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ._memo import Memo

__all__ = ["MAX_HEADER_LENGTH", "AcceptEncoding", "choose_encoding", "demote"]

MAX_HEADER_LENGTH = 2048
"""Longer Accept-Encoding values are treated as asking for no coding at all."""

_CHOSEN: Memo[tuple[str, tuple[str, ...]], str | None] = Memo(512)
"""Choices made, per header and server list: at most 512 of at most MAX_HEADER_LENGTH chars."""

_ALIASES = {"x-gzip": "gzip"}
# RFC 9110 section 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# RFC 9110 section 5.6.2: token = 1*tchar
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")


@dataclass(frozen=True, slots=True)
class AcceptEncoding:
    """What a client accepts, built once from its ``Accept-Encoding`` value.

    ``qualities`` maps each explicitly listed coding (lowercase, aliases resolved) to its q;
    ``wildcard`` is the q of ``*``, or ``None`` when ``*`` is not listed.

    Example:
        >>> ae = AcceptEncoding.from_header("br;q=0.5, *")
        >>> ae.quality("br"), ae.quality("zstd")
        (0.5, 1.0)
    """

    qualities: dict[str, float]
    wildcard: float | None = None

    @classmethod
    def from_header(cls, value: str) -> AcceptEncoding:
        """Parse a header value; anything malformed is dropped, never raised."""
        qualities: dict[str, float] = {}
        wildcard: float | None = None
        if len(value) > MAX_HEADER_LENGTH:
            return cls(qualities)
        for element in value.lower().split(","):
            coding, _, params = element.partition(";")
            coding = coding.strip()
            if not coding:
                continue
            q = _parse_q(params) if params else 1.0
            if q is None or _TOKEN.fullmatch(coding) is None:
                continue
            coding = _ALIASES.get(coding, coding)
            if coding == "*":
                if wildcard is None:
                    wildcard = q
            else:
                # The first mention of a coding counts; a repeat is not a second opinion.
                qualities.setdefault(coding, q)
        return cls(qualities, wildcard)

    def quality(self, coding: str) -> float:
        """The q this client gives ``coding``: its own entry, else ``*``'s, else 0.

        ``identity`` is acceptable unless refused (RFC 9110 section 12.5.3), so it defaults
        to 1 when neither it nor ``*`` is listed.
        """
        q = self.qualities.get(coding)
        if q is not None:
            return q
        if self.wildcard is not None:
            return self.wildcard
        return 1.0 if coding == "identity" else 0.0

    def best_match(self, available: Iterable[str]) -> str | None:
        """Pick from ``available`` (server preference order), or ``None`` for identity."""
        best: str | None = None
        best_q = 0.0
        for coding in available:
            q = self.quality(coding)
            if q > best_q:
                best, best_q = coding, q
        # identity is always acceptable unless refused, but it outranks a coding only when
        # the client gave it a preference (listed, or through "*"): "gzip;q=0.5" asks for gzip.
        stated = "identity" in self.qualities or self.wildcard is not None
        if best is not None and stated and self.quality("identity") > best_q:
            return None
        return best


def _parse_q(params: str) -> float | None:
    """Return the q of an element's parameters, 1.0 if it has none, None if it is invalid."""
    q = 1.0
    for param in params.split(";"):
        name, sep, raw = param.partition("=")
        name = name.strip()
        if not sep:
            if name:
                return None  # a bare word where a parameter should be
            continue
        if name == "q":
            raw = raw.strip()
            if _QVALUE.fullmatch(raw) is None:
                return None
            q = float(raw)
        # Other parameters carry no meaning for Accept-Encoding and are ignored.
    return q


def choose_encoding(header: str, available: tuple[str, ...]) -> str | None:
    """Choose the coding for a response.

    Args:
        header: the request's Accept-Encoding lines joined with ``","`` (``""`` if absent).
        available: the server's codings, most preferred first.

    Returns:
        The chosen wire token, or ``None`` to send the response uncompressed.

    Example:
        >>> choose_encoding("gzip, br", ("zstd", "br", "gzip"))
        'br'
    """
    if not header or len(header) > MAX_HEADER_LENGTH:
        # Checked before the cache so that an oversized header is never stored in it.
        return None
    return _CHOSEN.answer((header, available), _choose)


def _choose(key: tuple[str, tuple[str, ...]]) -> str | None:
    header, available = key
    return AcceptEncoding.from_header(header).best_match(available)


def demote(available: tuple[str, ...], last: Collection[str]) -> tuple[str, ...]:
    """The server's order with the codings in ``last`` moved behind the others, each group in
    its own order. Only ties move: a client that ranks a demoted coding higher still gets it.

    Example:
        >>> demote(("zstd", "br", "gzip"), {"br"})
        ('zstd', 'gzip', 'br')
    """
    kept = tuple(c for c in available if c not in last)
    return kept + tuple(c for c in available if c in last)
