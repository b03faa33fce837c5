"""The ``COMPRESS_*`` table: defaults, validation, and the two spellings of each setting.

One name means one thing everywhere: the middleware option ``br_level`` is the Quart config
key ``COMPRESS_BR_LEVEL``, with Flask-Compress 1.25's default and meaning. Every value is
checked here, once, at configuration time; a bad one raises ``TypeError`` (wrong type) or
``ValueError`` (unknown name, out of range) with a message that names the setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

from ._validation import (
    KNOWN_ALGORITHMS,
    algorithms,
    closest_name,
    int_in_range,
    media_patterns,
    path_patterns,
    seconds,
)
from .codecs.encoders import ENCODERS, HEAVY_EVENT_CODINGS, EncoderFactory
from .http._paths import PathFilter
from .http.mediatypes import DEFAULT_MIMETYPES, FLASK_COMPRESS_MIMETYPES, MediaTypeFilter

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .report import ReportHook

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_FLUSH_DELAY",
    "DEFAULT_MIMETYPES",
    "DEFAULT_REQUEST_MAX_RATIO",
    "DEFAULT_REQUEST_MAX_SIZE",
    "DEFAULT_THREAD_MIN_SIZE",
    "FLASK_COMPRESS_MIMETYPES",
    "FLASK_COMPRESS_OPTIONS",
    "HEAVY_EVENT_CODINGS",
    "KNOWN_ALGORITHMS",
    "Options",
    "Settings",
    "config_key",
    "options_from_config",
]

DEFAULT_ALGORITHMS = tuple(token for token in KNOWN_ALGORITHMS if token in ENCODERS)

# From benchmarks/offload.py (results/offload.md): a thread hand-off costs 55-110 us of CPU
# here, so it pays in loop time from 4-33 KiB but adds 17-82% CPU to a 64 KiB chunk. At
# 128 KiB the slowest default codec (gzip-6, ~92 MB/s) blocks the loop for about 1.4 ms
# inline, and the hand-off adds 9-42%. Starlette's GZipMiddleware uses the same size.
DEFAULT_THREAD_MIN_SIZE = 128 * 1024

# From benchmarks/streams_flush.py: a pause this long ends a burst of messages (a generator's
# messages arrive microseconds apart; a token stream's tens of milliseconds apart), and it
# adds at most this much latency to a stream's bytes. 0 flushes every message.
DEFAULT_FLUSH_DELAY = 0.005
_MAX_FLUSH_DELAY = 1.0

# Compressed request bodies (decompress_requests; docs/guides/request-bodies.md).
# 10 MiB holds 70 OpenTelemetry batches (512 spans) of the tests' OTLP/JSON export (143 KB),
# or 10 of spans ten times richer, and decodes in 9-32 ms of one core here
# (benchmarks/request_bombs.py). The ratio is Apache mod_deflate's default
# (DeflateInflateRatioLimit 200); that OTLP export compresses 20:1, zero bombs 1000:1+.
DEFAULT_REQUEST_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_REQUEST_MAX_RATIO = 200

# option -> (lowest, highest) for the integer settings; None means unbounded.
_RANGES: dict[str, tuple[int, int | None]] = {
    "level": (-1, 9),
    "deflate_level": (-1, 9),
    "br_level": (0, 11),
    "br_mode": (0, 2),
    "br_window": (10, 24),
    "br_block": (0, 24),
    "zstd_level": (-131072, 22),
    "min_size": (0, None),
    "thread_min_size": (0, None),
    "breach_padding": (0, 4096),
    "request_max_size": (1, None),
    "request_max_ratio": (0, None),  # 0: no ratio limit
}


class Options(TypedDict, total=False):
    """The keyword options of :class:`~asgi_compress.CompressMiddleware`."""

    algorithm: str | Iterable[str]
    algorithm_streaming: str | Iterable[str] | None
    mimetypes: str | Iterable[str]
    exclude_mimetypes: str | Iterable[str]
    exclude_paths: str | re.Pattern[str] | Iterable[str | re.Pattern[str]]
    success_only: bool
    level: int
    deflate_level: int
    br_level: int
    br_mode: int
    br_window: int
    br_block: int
    zstd_level: int
    min_size: int
    streams: bool
    thread_min_size: int
    breach_padding: int
    flush_delay: float
    on_response: ReportHook | None
    decompress_requests: bool
    request_max_size: int
    request_max_ratio: int
    precompressed: bool


FLASK_COMPRESS_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"mimetypes": FLASK_COMPRESS_MIMETYPES, "success_only": True}
)
"""Where the Quart extension's defaults (Flask-Compress 1.25's) differ from the middleware's:
its 26 media types, and only 2xx responses compressed."""


def config_key(option: str) -> str:
    """``"br_level"`` -> ``"COMPRESS_BR_LEVEL"``."""
    return "COMPRESS_" + option.upper()


def options_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the middleware options out of a ``COMPRESS_*`` config mapping."""
    return {
        option: config[key]
        for option in Options.__annotations__
        if (key := config_key(option)) in config
    }


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated, normalized settings, with the middleware's defaults.

    Build it from keyword options with :meth:`from_options`, from a ``COMPRESS_*`` config
    with :meth:`from_config` (Flask-Compress's defaults), or directly: ``Settings(level=9)``
    validates and normalizes its fields the same way (``algorithm="gzip, br"`` becomes
    ``("gzip", "br")``), and derives everything the middleware needs from them.

    Attributes:
        algorithm: the codings offered, most preferred first (a list or a comma-separated
            string); a tie between equal q-values goes to the first. Never empty.
        algorithm_streaming: the same, for streamed responses; empty or ``None``: the same
            as ``algorithm``. An event stream (middleware, not the Quart extension) takes br
            last among the codings the client ranks equally: br holds ~262 KiB per open
            stream, zstd ~58, gzip ~24.
        mimetypes: media type patterns to compress, without parameters: ``type/subtype``,
            ``type/*``, ``*/*``, ``*/*+json`` (a structured-syntax suffix, RFC 6839). An
            empty list compresses nothing (``Vary`` is still sent).
        exclude_mimetypes: patterns never compressed, even when ``mimetypes`` matches them.
        exclude_paths: path prefixes (whole segments) and compiled regular expressions
            (``search``), checked against the request's path from the server's root
            (``root_path`` counted once); matching requests pass through untouched, without
            ``Vary``.
        success_only: compress 2xx responses only (Flask-Compress's rule, the Quart
            extension's default); otherwise every status with content (not 1xx, 204, 205,
            206, 304), as Starlette's GZipMiddleware does.
        level: gzip level, -1..9.
        deflate_level: deflate (zlib) level, -1..9; -1 is zlib's default (6).
        br_level: brotli quality, 0..11 (event streams use at most 3).
        br_mode: brotli mode: 0 generic, 1 text, 2 font.
        br_window: brotli window (lgwin), 10..24; streams use at most 19 (event streams 16),
            since a stream's window is memory held per open client.
        br_block: brotli block (lgblock), 0 (automatic) or 16..24.
        zstd_level: zstd level, -131072..22 (0 is the library default); the window never
            exceeds 8 MB (RFC 9659), whatever the level.
        min_size: smallest body to compress, in bytes: the declared Content-Length, else the
            size of a body that ends before it streams.
        streams: ``False`` leaves streamed responses (generators, large files) uncompressed.
        thread_min_size: a codec step goes to a worker thread when it costs as much as this
            many bytes at gzip-6 (~1 ms): 128 KiB at gzip-6, ~1.3 KB at br-11, ~700 KB at
            zstd-3 (``benchmarks/offload.py``: below it a hand-off costs more than it saves).
            Request-body chunks this large are decoded on a worker thread too.
        breach_padding: BREACH mitigation: up to this many random bytes (0..4096) added to
            every encoded body, in a form each coding's decoders skip; encoded ETags become
            weak.
        flush_delay: seconds (0..1): a stream's bytes are flushed at most this long after
            they were sent (and at 256 KiB unflushed, and at the end); messages within it are
            coalesced. ``0`` flushes every message. Event streams flush every event.
        on_response: called with a :class:`~asgi_compress.CompressionReport` for each
            response, after its last byte; ``None`` costs nothing.
        decompress_requests: decode request bodies coded ``gzip`` (or ``x-gzip``),
            ``deflate``, ``br``, ``zstd``, or two of them stacked, inside the app's
            ``receive()``; another coding is answered 415.
        request_max_size: the most decoded bytes a request body may have (each layer of a
            stacked coding counts on its own); past it, 413.
        request_max_ratio: the most decoded bytes per wire byte, enforced past the first
            1 MiB (413 past it); ``0`` turns it off.
        precompressed: serve a file's precompressed sibling (``app.js.br``, ``.zst``,
            ``.gz``) when the app sends the file by path (ASGI path send, as Starlette's
            ``StaticFiles`` does) and the sibling is not older than the file.
        encoders: coding -> factory of its encoder (``events=True``: an event stream's), for
            the codings in use.

    Raises:
        TypeError: a value of the wrong type.
        ValueError: an unknown algorithm, a malformed media type, a value out of range.

    Example:
        >>> Settings(mimetypes="text/*", exclude_mimetypes=["text/event-stream"]).mimetypes
        ('text/*',)
    """

    algorithm: tuple[str, ...] = DEFAULT_ALGORITHMS
    algorithm_streaming: tuple[str, ...] = ()  # () or None: the same as algorithm
    mimetypes: tuple[str, ...] = DEFAULT_MIMETYPES
    exclude_mimetypes: tuple[str, ...] = ()
    exclude_paths: tuple[str | re.Pattern[str], ...] = ()
    success_only: bool = False
    level: int = 6
    deflate_level: int = -1
    br_level: int = 4
    br_mode: int = 0
    br_window: int = 22
    br_block: int = 0
    zstd_level: int = 3
    min_size: int = 500
    streams: bool = True
    thread_min_size: int = DEFAULT_THREAD_MIN_SIZE
    breach_padding: int = 0
    flush_delay: float = DEFAULT_FLUSH_DELAY
    on_response: ReportHook | None = None
    decompress_requests: bool = False
    request_max_size: int = DEFAULT_REQUEST_MAX_SIZE
    request_max_ratio: int = DEFAULT_REQUEST_MAX_RATIO
    precompressed: bool = True
    encoders: Mapping[str, EncoderFactory] = field(init=False, repr=False, compare=False)
    _media_filter: MediaTypeFilter = field(init=False, repr=False, compare=False)
    _known_types: dict[str, bool] = field(init=False, repr=False, compare=False)
    _path_filter: PathFilter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = {name: getattr(self, name) for name in _OPTION_NAMES}
        if values["algorithm_streaming"] == ():
            values["algorithm_streaming"] = None
        for name, value in _normalize(values, name=str).items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "encoders", _encoder_factories(self))
        media_filter = MediaTypeFilter(self.mimetypes, self.exclude_mimetypes)
        object.__setattr__(self, "_media_filter", media_filter)
        object.__setattr__(self, "_known_types", media_filter.known)
        object.__setattr__(self, "_path_filter", PathFilter(self.exclude_paths))

    @classmethod
    def from_options(cls, **options: Unpack[Options]) -> Settings:
        """Validate keyword options (middleware spelling) and build the settings.

        Raises:
            TypeError: an unknown option (the message names the closest valid one) or a
                value of the wrong type.
            ValueError: an unknown algorithm or a value out of its range.
        """
        _check_names(options, name=str)
        return cls(**options)  # type: ignore[arg-type]  # normalized in __post_init__

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build the settings from ``COMPRESS_*`` keys, with Flask-Compress's defaults for the
        missing ones; errors name the config key."""
        options = {**FLASK_COMPRESS_OPTIONS, **options_from_config(config)}
        return cls(**_normalize(options, name=config_key))

    def is_compressible_type(self, media_type: str) -> bool:
        """Whether a media type (lowercase, no parameters) is in ``mimetypes`` and not in
        ``exclude_mimetypes``. Memoized per media type: on the hot path, one dict lookup."""
        known = self._known_types.get(media_type)
        return self._media_filter(media_type) if known is None else known

    def level_for(self, coding: str) -> int:
        """The configured level (quality, for br) of ``coding``."""
        return {
            "gzip": self.level,
            "deflate": self.deflate_level,
            "br": self.br_level,
            "zstd": self.zstd_level,
        }.get(coding, self.zstd_level)

    def is_excluded_path(self, path: str) -> bool:
        """Whether ``path`` (``root_path + path``) matches ``exclude_paths``. Check
        ``settings.exclude_paths`` first: with none, skip the call."""
        return self._path_filter(path)


_OPTION_NAMES = tuple(Options.__annotations__)


def _check_names(options: Mapping[str, Any], *, name: Callable[[str], str]) -> None:
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        guess = closest_name(unknown[0], _OPTION_NAMES)
        hint = f"did you mean {name(guess)!r}? " if guess else ""
        known = ", ".join(_OPTION_NAMES)
        raise TypeError(f"unknown option {name(unknown[0])!r}; {hint}known options: {known}")


def _normalize(options: Mapping[str, Any], *, name: Callable[[str], str]) -> dict[str, Any]:
    """Validate ``options`` and return them normalized (idempotent on normalized values)."""
    _check_names(options, name=name)
    values: dict[str, Any] = {}
    for option, (low, high) in _RANGES.items():
        if option in options:
            values[option] = int_in_range(options[option], low, high, name(option))
    if values.get("br_block", 0) not in (0, *range(16, 25)):
        raise ValueError(
            f"{name('br_block')} must be 0 (automatic) or 16..24, got {values['br_block']}"
        )
    if "flush_delay" in options:
        values["flush_delay"] = seconds(
            options["flush_delay"], 0, _MAX_FLUSH_DELAY, name("flush_delay")
        )
    for option in ("streams", "success_only", "decompress_requests", "precompressed"):
        if option in options:
            if not isinstance(options[option], bool):
                raise TypeError(f"{name(option)} must be a bool, got {options[option]!r}")
            values[option] = options[option]
    algorithm = DEFAULT_ALGORITHMS
    if "algorithm" in options:
        algorithm = values["algorithm"] = algorithms(options["algorithm"], name("algorithm"))
    streaming = options.get("algorithm_streaming")
    if "algorithm" in options or "algorithm_streaming" in options:
        values["algorithm_streaming"] = (
            algorithm if streaming is None else algorithms(streaming, name("algorithm_streaming"))
        )
    for option in ("mimetypes", "exclude_mimetypes"):
        if option in options:
            values[option] = media_patterns(options[option], name(option))
    if "exclude_paths" in options:
        values["exclude_paths"] = path_patterns(options["exclude_paths"], name("exclude_paths"))
    if "on_response" in options:
        hook = options["on_response"]
        if hook is not None and not callable(hook):
            raise TypeError(
                f"{name('on_response')} must be None or a function of one CompressionReport, "
                f"got {hook!r}"
            )
        values["on_response"] = hook
    return values


def _encoder_factories(s: Settings) -> dict[str, EncoderFactory]:
    params: dict[str, dict[str, int]] = {
        "gzip": {"level": s.level},
        "deflate": {"level": s.deflate_level},
        "br": {
            "quality": s.br_level,
            "mode": s.br_mode,
            "lgwin": s.br_window,
            "lgblock": s.br_block,
        },
        "zstd": {"level": s.zstd_level},
    }
    used = dict.fromkeys(s.algorithm + s.algorithm_streaming)
    return {token: partial(ENCODERS[token], **params[token]) for token in used}
