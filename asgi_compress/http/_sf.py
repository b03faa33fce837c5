"""The few Structured Field (RFC 9651, formerly RFC 8941) shapes RFC 9842 uses.

Parsing is strict and never raises: a value that is not exactly the expected item is
``None``, and RFC 9651 section 4.2 says a field that fails to parse is ignored as a whole.
Serializing refuses what cannot be represented (a configuration error, raised early).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

__all__ = [
    "parse_byte_sequence",
    "parse_string",
    "serialize_inner_list",
    "serialize_string",
    "split_dictionary_members",
]

_OWS = " \t"
# RFC 9651 section 3.3.5: base64 characters and padding only.
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
# RFC 9651 section 3.3.3: an sf-string holds printable ASCII (%x20-7E) only.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# RFC 9651 section 3.1.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")


def parse_byte_sequence(value: bytes) -> bytes | None:
    """``:base64:`` -> the bytes (RFC 9651 section 4.2.7); anything else -> ``None``.

    Parameters after the item are not accepted: RFC 9842 defines none for the fields that
    carry a byte sequence, so such a value is treated as unparseable and ignored.
    """
    value = value.strip(b" \t")
    if len(value) < 2 or value[:1] != b":" or value[-1:] != b":":
        return None
    inner = value[1:-1]
    if _BASE64.fullmatch(inner) is None:
        return None
    # Section 4.2.7: parsers SHOULD NOT fail when "=" padding is missing.
    inner += b"=" * (-len(inner) % 4)
    try:
        return base64.b64decode(inner, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_string(value: bytes) -> str | None:
    """``"text"`` with ``\\"`` and ``\\\\`` escapes (RFC 9651 section 4.2.5), else ``None``."""
    value = value.strip(b" \t")
    if len(value) < 2 or value[:1] != b'"' or value[-1:] != b'"':
        return None
    out: list[str] = []
    chars = iter(value[1:-1].decode("latin-1"))
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in ('"', "\\"):
                return None
            out.append(escaped)
        elif char == '"' or not (" " <= char <= "~"):
            return None
        else:
            out.append(char)
    return "".join(out)


def serialize_string(text: str) -> str:
    """A str as an sf-string (RFC 9651 section 4.1.6).

    Raises:
        ValueError: ``text`` holds a character an sf-string cannot carry.
    """
    if _PRINTABLE.fullmatch(text) is None:
        raise ValueError(f"{text!r} holds characters outside printable ASCII")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_inner_list(strings: Iterable[str]) -> str:
    """Strings as an inner list, ``("a" "b")`` (RFC 9651 section 4.1.1.1)."""
    return "(" + " ".join(serialize_string(s) for s in strings) + ")"


def split_dictionary_members(value: str) -> dict[str, str]:
    """The ``key=value`` members of a simple sf-dictionary, values kept serialized.

    Enough to read the ``match`` and ``id`` of a Use-As-Dictionary the app set: commas inside
    strings and inner lists are respected; anything malformed gives an empty dict.
    """
    members: dict[str, str] = {}
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in _OWS:
            i += 1
        key_match = _KEY.match(value, i)
        if key_match is None:
            return {}
        key, i = key_match.group(), key_match.end()
        start = i
        if i < n and value[i] == "=":
            i += 1
            start = i
            depth, quoted = 0, False
            while i < n:
                char = value[i]
                if quoted:
                    if char == "\\":
                        i += 1
                    elif char == '"':
                        quoted = False
                elif char == '"':
                    quoted = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                elif char == "," and depth == 0:
                    break
                i += 1
            if quoted or depth:
                return {}
            members[key] = value[start:i].strip(_OWS)
        else:
            members[key] = "?1"  # a bare key is boolean true (RFC 9651 section 3.2)
        while i < n and value[i] in _OWS:
            i += 1
        if i < n:
            if value[i] != ",":
                return {}
            i += 1
    return members
