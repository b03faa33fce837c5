"""The subset of URLPattern that a ``Use-As-Dictionary: match`` of ours may use.

RFC 9842 section 2.1.1 makes ``match`` a URL Pattern (WHATWG URLPattern) built with the
dictionary's URL as base, without regexp groups; section 2.2.2 matches it against a request
URL of the same origin. A path-only pattern inherits scheme, host and port from that base, so
it is same-origin by construction, and the query and fragment, which it does not name, match
anything (URLPattern's default for components after the pathname).

Supported: a path starting with ``/`` made of literal characters and ``*`` wildcards, where
``*`` matches any run of characters, ``/`` included (URLPattern's full wildcard).

Not supported, and refused when configured: absolute URLs (``https://...``, another origin or
a repeat of ours), named groups (``:id``), regexp groups (``(...)``), group braces
(``{...}``), modifiers (``?``, ``+``), escapes (``\\``), and a search or hash part (``?``,
``#``). A pattern with those needs a full URLPattern engine to be matched the way the browser
matches it; getting it subtly different would mis-route dictionaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["MatchPattern"]

# RFC 3986 pchar and "/", minus URLPattern's special characters : * ( ) { } ? + \ and "#".
_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&',;=@%/]*")
_SPECIAL = ":(){}?+\\#"


@dataclass(frozen=True, slots=True)
class MatchPattern:
    """A path pattern with ``*`` wildcards, as RFC 9842 ``match`` values of ours are.

    Build it with :meth:`compile`, which refuses what the subset cannot express.

    Example:
        >>> pattern = MatchPattern.compile("/static/app.*.js")
        >>> pattern.matches("/static/app.9f2c.js"), pattern.matches("/static/other.js")
        (True, False)
    """

    pattern: str
    _regex: re.Pattern[str] = field(repr=False, compare=False)

    @classmethod
    def compile(cls, pattern: str) -> MatchPattern:
        """Check ``pattern`` against the supported subset and compile it.

        Raises:
            ValueError: the pattern is not a path of literals and ``*`` (the message says why).
        """
        if not isinstance(pattern, str):
            raise TypeError(f"a match pattern must be a str, got {pattern!r}")
        if "://" in pattern or pattern.startswith("//"):
            raise ValueError(
                f"match pattern {pattern!r}: only same-origin path patterns are supported "
                "(RFC 9842 section 2.2.2 matches same-origin requests only)"
            )
        if not pattern.startswith("/"):
            raise ValueError(f"match pattern {pattern!r} must be a path starting with '/'")
        special = sorted({c for c in pattern if c in _SPECIAL})
        if special:
            raise ValueError(
                f"match pattern {pattern!r}: URLPattern syntax {''.join(special)!r} is not "
                "supported; use literal path characters and '*' wildcards"
            )
        literals = pattern.split("*")
        for literal in literals:
            if _LITERAL.fullmatch(literal) is None:
                raise ValueError(
                    f"match pattern {pattern!r} holds characters that are not URL path "
                    "characters; percent-encode them"
                )
        regex = re.compile(".*".join(re.escape(literal) for literal in literals), re.DOTALL)
        return cls(pattern, regex)

    def matches(self, path: str) -> bool:
        """Whether a request path (as sent, percent-encoded, without the query) matches."""
        return self._regex.fullmatch(path) is not None
