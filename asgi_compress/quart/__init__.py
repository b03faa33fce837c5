"""The Flask-Compress-shaped Quart extension (``_extension.py``) and its config (``_config.py``).

Nothing else in the package imports this folder, except ``asgi_compress.__init__`` on first
use of ``Compress``, so the middleware works without Quart installed.

Example:
    >>> from asgi_compress.quart import Compress  # doctest: +SKIP
"""

from ._extension import CacheKey, Compress

__all__ = ["CacheKey", "Compress"]
