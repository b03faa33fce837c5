"""asgi-compress: response compression (zstd, br, gzip, deflate) for any ASGI app.

Example:
    >>> from asgi_compress import CompressMiddleware
    >>> app = CompressMiddleware(app, br_level=5)  # doctest: +SKIP
"""

from .middleware import CompressMiddleware
from .settings import Settings

__version__ = "0.1.0"

__all__ = ["CompressMiddleware", "Settings", "__version__"]
