"""asgi-compress: response compression (zstd, br, gzip, deflate) for any ASGI app.

Example:
    >>> from asgi_compress import CompressMiddleware
    >>> app = CompressMiddleware(app, br_level=5)  # doctest: +SKIP

The Quart extension, ``Compress``, and ``RedisCache`` are imported on first use, so that the
middleware works without Quart or redis-py installed; without Quart, ``from asgi_compress
import Compress`` raises an ``ImportError`` that names the extra to install
(``pip install 'asgi-compress[quart]'``).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from .cache import CacheBackend, DictCache, DirectoryCache, ResponseCache, cacheable
from .http.mediatypes import DEFAULT_MIMETYPES, FLASK_COMPRESS_MIMETYPES
from .middleware import CompressMiddleware
from .policy import ResponsePolicy, skip_compression
from .report import CompressionReport, PassReason, ReportHook
from .settings import Settings

if TYPE_CHECKING:
    from .cache import RedisCache
    from .quart import Compress

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MIMETYPES",
    "FLASK_COMPRESS_MIMETYPES",
    "CacheBackend",
    "CompressMiddleware",
    "CompressionReport",
    "DictCache",
    "PassReason",
    "ReportHook",
    "DirectoryCache",
    "RedisCache",
    "ResponseCache",
    "ResponsePolicy",
    "Settings",
    "__version__",
    "cacheable",
    "skip_compression",
]
# `from asgi_compress import *` must work without Quart: list Compress only when it imports.
if find_spec("quart") is not None:
    __all__ += ["Compress"]


def __getattr__(name: str) -> Any:
    if name == "Compress":
        from .quart import Compress

        return Compress
    if name == "RedisCache":  # redis-py is an optional extra
        from .cache import RedisCache

        return RedisCache
    raise AttributeError(f"module 'asgi_compress' has no attribute {name!r}")
