"""Checks for one option value each: a value in, the normalized value out, or an error that
names the setting (``name`` is the option or the config key, as the caller spells it)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from .codecs.encoders import ENCODERS
from .http.mediatypes import check_media_pattern

__all__ = [
    "KNOWN_ALGORITHMS",
    "algorithms",
    "closest_name",
    "int_in_range",
    "media_patterns",
    "path_patterns",
    "seconds",
    "words",
]

KNOWN_ALGORITHMS = ("zstd", "br", "gzip", "deflate")
"""Every coding this package knows, in the default server preference order."""

# The names other compression middlewares use, for "did you mean" (docs/migration.md).
_PEER_NAMES = {
    "minimum_size": "min_size",
    "compresslevel": "level",
    "compression_level": "level",
    "gzip_level": "level",
    "quality": "br_level",
    "brotli_quality": "br_level",
    "brotli_level": "br_level",
    "mode": "br_mode",
    "lgwin": "br_window",
    "lgblock": "br_block",
    "thread_minimum_size": "thread_min_size",
    "exclude_content_types": "exclude_mimetypes",
    "exclude_mediatype": "exclude_mimetypes",
    "excluded_handlers": "exclude_paths",
    "exclude_path": "exclude_paths",
}


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The known name a mistyped ``name`` most likely meant (``minimum_size`` -> ``min_size``)."""
    known = list(known)
    alias = _PEER_NAMES.get(name.lower().removeprefix("compress_"))
    for candidate in (alias, alias and "COMPRESS_" + alias.upper()):
        if candidate in known:
            return candidate
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def int_in_range(value: object, low: int, high: int | None, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be in {span}, got {value}")
    return value


def seconds(value: object, low: float, high: float, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must be in {low}..{high} seconds, got {value}")
    return float(value)


def words(value: object, name: str, *, lower: bool = True) -> list[str]:
    """A comma-separated string or an iterable of strings, stripped (and lowercased: codings
    and media types are case-insensitive; endpoint names are not), without repeats."""
    if isinstance(value, str):
        items: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = value
    else:
        raise TypeError(
            f"{name} must be a list of strings or a comma-separated string, got {value!r}"
        )
    found = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only strings, got {item!r}")
        if word := (item.strip().lower() if lower else item.strip()):
            found.append(word)
    return list(dict.fromkeys(found))


def algorithms(value: object, name: str) -> tuple[str, ...]:
    tokens = words(value, name)
    if not tokens:
        raise ValueError(
            f"{name} is empty: name at least one of {', '.join(KNOWN_ALGORITHMS)}. "
            f"To turn compression off, {_HOW_TO_TURN_OFF[name]}"
        )
    for token in tokens:
        if token in ENCODERS:
            continue
        raise ValueError(
            f"{name}: unknown algorithm {token!r}; known algorithms: {', '.join(KNOWN_ALGORITHMS)}"
        )
    return tuple(tokens)


_HOW_TO_TURN_OFF = {
    "algorithm": "remove the middleware, or pass mimetypes=[] (responses still get Vary)",
    "algorithm_streaming": "pass streams=False",
    "COMPRESS_ALGORITHM": "set COMPRESS_MIMETYPES = [] (or COMPRESS_REGISTER = False)",
    "COMPRESS_ALGORITHM_STREAMING": "set COMPRESS_STREAMS = False",
}


def media_patterns(value: object, name: str) -> tuple[str, ...]:
    types = words(value, name)
    for media_type in types:
        if not check_media_pattern(media_type):
            raise ValueError(
                f"{name}: {media_type!r} is not a media type pattern (type/subtype, type/*, "
                "*/*, or a suffix pattern such as */*+json)"
            )
    return tuple(types)


def path_patterns(value: object, name: str) -> tuple[str | re.Pattern[str], ...]:
    items: Iterable[object]
    if isinstance(value, (str, re.Pattern)):
        items = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = value
    else:
        raise TypeError(
            f"{name} must be a path prefix, a compiled regular expression, or a list of "
            f"them, got {value!r}"
        )
    paths: list[str | re.Pattern[str]] = []
    for item in items:
        if isinstance(item, re.Pattern) and isinstance(item.pattern, str):
            paths.append(item)
        elif isinstance(item, str):
            if not item.startswith("/"):
                raise ValueError(f"{name}: the path prefix {item!r} must start with '/'")
            paths.append(item.rstrip("/") or "/")
        else:
            raise TypeError(
                f"{name} must contain path prefixes starting with '/' or compiled str "
                f"regular expressions, got {item!r}"
            )
    return tuple(dict.fromkeys(paths))
