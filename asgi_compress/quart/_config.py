"""The ``COMPRESS_*`` keys only the Quart extension reads, and the config it writes.

The middleware's settings (:mod:`asgi_compress.settings`) know nothing of a framework's
config; these are the Flask-Compress keys that only mean something to an extension which reads
its app's config: which views are compressed, the cache key and backend, conditional requests,
and which keys stay live after ``init_app``. Kept apart from :mod:`asgi_compress.quart` so that
they can be read and tested without Quart installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from .._validation import words
from ..settings import Options, Settings, config_key

__all__ = [
    "EXTENSION_DEFAULTS",
    "LIVE_CONFIG_KEYS",
    "ExtensionSettings",
    "config_defaults",
]


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
    defaults = Settings.from_config({})
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

    The attributes are the keys ``COMPRESS_<NAME>``; each takes Flask-Compress's default.

    Attributes:
        register: compress every eligible response; ``False`` compresses only the views
            marked ``@compress.compressed()``.
        cache_key: a function ``(request) -> str`` (may be async) naming the cache slot of a
            response; becomes ``compress.cache_key``.
        cache_backend: a zero-argument factory, called once at ``init_app``; its result
            becomes ``compress.cache``.
        evaluate_conditional_request: answer ``If-None-Match``/``If-Modified-Since`` with 304
            and a failing ``If-Match`` with 412, against the compressed representation (GET
            and HEAD only). Live: read on every request.
        streaming_endpoint_conditional: the endpoints whose *streamed* responses are still
            evaluated for 304/412 (a list or a comma-separated string).
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
                words(config[key], key, lower=False)
            )
        return cls(**values)
