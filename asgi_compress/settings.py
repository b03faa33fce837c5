"""The ``COMPRESS_*`` table: defaults, validation, and the two spellings of each setting.

One name means one thing everywhere: the middleware option ``br_level`` is the Quart config
key ``COMPRESS_BR_LEVEL``, with Flask-Compress 1.25's default and meaning. Every value is
checked here, once, at configuration time; a bad one raises ``TypeError`` (wrong type) or
``ValueError`` (unknown name, out of range) with a message that names the setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

from .encoders import ENCODERS, Encoder, encoder_unavailable_reason

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_MIMETYPES",
    "DEFAULT_REQUEST_MAX_RATIO",
    "DEFAULT_REQUEST_MAX_SIZE",
    "DEFAULT_THREAD_MIN_SIZE",
    "EXTENSION_DEFAULTS",
    "KNOWN_ALGORITHMS",
    "LIVE_CONFIG_KEYS",
    "ExtensionSettings",
    "Options",
    "Settings",
    "config_defaults",
    "config_key",
    "options_from_config",
]

KNOWN_ALGORITHMS = ("zstd", "br", "gzip", "deflate")
"""Every coding this package knows, in the default server preference order."""

DEFAULT_ALGORITHMS = tuple(token for token in KNOWN_ALGORITHMS if token in ENCODERS)

# Flask-Compress 1.25's 26 types, in its order, plus server-sent events: streams are flushed
# per message, so an event reaches the browser as soon as it is sent.
DEFAULT_MIMETYPES = (
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
    "text/event-stream",
)

# From benchmarks/offload.py (results/offload.md): a thread hand-off costs 55-110 us of CPU
# here, so it pays in loop time from 4-33 KiB but adds 17-82% CPU to a 64 KiB chunk. At
# 128 KiB the slowest default codec (gzip-6, ~92 MB/s) blocks the loop for about 1.4 ms
# inline, and the hand-off adds 9-42%. Starlette's GZipMiddleware uses the same size.
DEFAULT_THREAD_MIN_SIZE = 128 * 1024

# Compressed request bodies (decompress_requests; README "Compressed request bodies").
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
    decompress_requests: bool
    request_max_size: int
    request_max_ratio: int


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
    """Validated, normalized settings. Build one with :meth:`from_options`."""

    algorithm: tuple[str, ...] = DEFAULT_ALGORITHMS
    algorithm_streaming: tuple[str, ...] = DEFAULT_ALGORITHMS
    mimetypes: tuple[str, ...] = DEFAULT_MIMETYPES
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
    decompress_requests: bool = False
    request_max_size: int = DEFAULT_REQUEST_MAX_SIZE
    request_max_ratio: int = DEFAULT_REQUEST_MAX_RATIO
    encoders: Mapping[str, Callable[[], Encoder]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _exact_types: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _type_prefixes: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_options(cls, **options: Unpack[Options]) -> Settings:
        """Validate keyword options (middleware spelling) and build the settings.

        Raises:
            TypeError: an unknown option or a value of the wrong type.
            ValueError: an unknown algorithm or a value out of its range.
        """
        return _build(options, name=str)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build the settings from ``COMPRESS_*`` keys; errors name the config key."""
        return _build(options_from_config(config), name=config_key)

    def is_compressible_type(self, media_type: str) -> bool:
        """Whether a media type (lowercase, no parameters) is in ``mimetypes``."""
        return media_type in self._exact_types or (
            bool(self._type_prefixes) and media_type.startswith(self._type_prefixes)
        )


def _build(options: Mapping[str, Any], *, name: Callable[[str], str]) -> Settings:
    unknown = sorted(set(options) - set(Options.__annotations__))
    if unknown:
        known = ", ".join(Options.__annotations__)
        raise TypeError(f"unknown option {name(unknown[0])!r}; known options: {known}")
    values: dict[str, Any] = {}
    for option, (low, high) in _RANGES.items():
        if option in options:
            values[option] = _int_in_range(options[option], low, high, name(option))
    if values.get("br_block", 0) not in (0, *range(16, 25)):
        raise ValueError(
            f"{name('br_block')} must be 0 (automatic) or 16..24, got {values['br_block']}"
        )
    if "streams" in options:
        if not isinstance(options["streams"], bool):
            raise TypeError(f"{name('streams')} must be a bool, got {options['streams']!r}")
        values["streams"] = options["streams"]
    if "decompress_requests" in options:
        if not isinstance(options["decompress_requests"], bool):
            raise TypeError(
                f"{name('decompress_requests')} must be a bool, "
                f"got {options['decompress_requests']!r}"
            )
        values["decompress_requests"] = options["decompress_requests"]
    algorithm = DEFAULT_ALGORITHMS
    if "algorithm" in options:
        algorithm = values["algorithm"] = _algorithms(options["algorithm"], name("algorithm"))
    streaming = options.get("algorithm_streaming")
    values["algorithm_streaming"] = (
        algorithm if streaming is None else _algorithms(streaming, name("algorithm_streaming"))
    )
    if "mimetypes" in options:
        values["mimetypes"] = _mimetypes(options["mimetypes"], name("mimetypes"))
    settings = Settings(**values)
    mimetypes = settings.mimetypes
    object.__setattr__(settings, "encoders", _encoder_factories(settings))
    object.__setattr__(settings, "_exact_types", frozenset(t for t in mimetypes if t[-1] != "*"))
    object.__setattr__(settings, "_type_prefixes", tuple(t[:-1] for t in mimetypes if t[-1] == "*"))
    return settings


def _int_in_range(value: object, low: int, high: int | None, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be in {span}, got {value}")
    return value


def _words(value: object, name: str, *, lower: bool = True) -> list[str]:
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
    words = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only strings, got {item!r}")
        if word := (item.strip().lower() if lower else item.strip()):
            words.append(word)
    return list(dict.fromkeys(words))


def _algorithms(value: object, name: str) -> tuple[str, ...]:
    tokens = _words(value, name)
    for token in tokens:
        if token in ENCODERS:
            continue
        if reason := encoder_unavailable_reason(token):
            raise ValueError(f"{name}: {token!r} needs {reason}")
        raise ValueError(
            f"{name}: unknown algorithm {token!r}; known algorithms: {', '.join(KNOWN_ALGORITHMS)}"
        )
    return tuple(tokens)


# RFC 9110 section 8.3.1: type "/" subtype, both tokens, or "type/*" for the family. A "*"
# anywhere else is legal token syntax but never a real type: a typo of a wildcard.
_MEDIA_TYPE = re.compile(r"[!#$%&'+\-.^_`|~0-9a-z]+/(?:[!#$%&'+\-.^_`|~0-9a-z]+|\*)")


def _mimetypes(value: object, name: str) -> tuple[str, ...]:
    types = _words(value, name)
    for media_type in types:
        if _MEDIA_TYPE.fullmatch(media_type) is None:
            raise ValueError(f"{name}: {media_type!r} is not a media type (type/subtype or type/*)")
    return tuple(types)


def _encoder_factories(s: Settings) -> dict[str, Callable[[], Encoder]]:
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


# -- The Quart extension's keys ----------------------------------------------------------------
# The middleware's keys are the fields of Settings above; these five only mean something to a
# framework extension (asgi_compress.quart), which reads them from its app's config.

EXTENSION_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "COMPRESS_REGISTER": True,
        "COMPRESS_CACHE_KEY": None,
        "COMPRESS_CACHE_BACKEND": None,
        "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": True,
        "COMPRESS_STREAMING_ENDPOINT_CONDITIONAL": ("static",),
    }
)
"""Flask-Compress 1.25's defaults for the keys only the Quart extension reads."""

LIVE_CONFIG_KEYS = (
    "COMPRESS_LEVEL",
    "COMPRESS_DEFLATE_LEVEL",
    "COMPRESS_BR_LEVEL",
    "COMPRESS_BR_MODE",
    "COMPRESS_BR_WINDOW",
    "COMPRESS_BR_BLOCK",
    "COMPRESS_ZSTD_LEVEL",
    "COMPRESS_MIN_SIZE",
    "COMPRESS_STREAMS",
)
"""The middleware keys a Quart app may change in ``app.config`` after ``init_app``: the next
request uses the new value, as in Flask-Compress (its tests rely on it). With
``COMPRESS_EVALUATE_CONDITIONAL_REQUEST``, these are the only live keys; the others are read
once, at ``init_app``."""


def config_defaults() -> dict[str, Any]:
    """Every ``COMPRESS_*`` key with its default, as ``init_app`` writes it into ``app.config``.

    Sequences are given as fresh lists (Flask-Compress's form), so an app may edit them in
    place without touching the defaults.

    Example:
        >>> config_defaults()["COMPRESS_LEVEL"]
        6
    """
    defaults = Settings()
    values: dict[str, Any] = {
        config_key(f.name): getattr(defaults, f.name)
        for f in fields(Settings)
        if f.name in Options.__annotations__
    }
    values.update(EXTENSION_DEFAULTS)
    return {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}


@dataclass(frozen=True, slots=True)
class ExtensionSettings:
    """The validated extension-only keys. Build one with :meth:`from_config`.

    Attributes:
        register: compress every eligible response (``COMPRESS_REGISTER``); ``False``
            compresses only views marked ``@compress.compressed()``.
        cache_key: ``COMPRESS_CACHE_KEY``, a function of the request naming its cache entry.
        cache_backend: ``COMPRESS_CACHE_BACKEND``, a zero-argument factory of the cache.
        evaluate_conditional_request: ``COMPRESS_EVALUATE_CONDITIONAL_REQUEST``.
        streaming_endpoint_conditional: ``COMPRESS_STREAMING_ENDPOINT_CONDITIONAL``, the
            endpoints whose streamed responses are evaluated against conditional requests.
    """

    register: bool = True
    cache_key: Callable[[Any], Any] | None = None
    cache_backend: Callable[[], Any] | None = None
    evaluate_conditional_request: bool = True
    streaming_endpoint_conditional: frozenset[str] = frozenset({"static"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ExtensionSettings:
        """Validate the extension keys present in ``config``; errors name the key.

        Raises:
            TypeError: a value of the wrong type.
        """
        values: dict[str, Any] = {}
        for name in ("register", "evaluate_conditional_request"):
            key = config_key(name)
            if key in config:
                if not isinstance(config[key], bool):
                    raise TypeError(f"{key} must be a bool, got {config[key]!r}")
                values[name] = config[key]
        for name, shape in (
            ("cache_key", "a function of the request"),
            ("cache_backend", "a zero-argument factory of the cache"),
        ):
            key = config_key(name)
            value = config.get(key)
            if value is not None and not callable(value):
                raise TypeError(f"{key} must be None or {shape}, got {value!r}")
            values[name] = value
        key = config_key("streaming_endpoint_conditional")
        if key in config:
            values["streaming_endpoint_conditional"] = frozenset(
                _words(config[key], key, lower=False)
            )
        return cls(**values)
