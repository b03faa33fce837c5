"""StaticFiles behind the middleware with its defaults, over the directory named by
``$ASGI_COMPRESS_TEST_STATIC`` (``tests.apps.precompressed_app:app``, for
tests/response/test_precompressed.py)."""

from __future__ import annotations

import os

from starlette.staticfiles import StaticFiles

from asgi_compress import CompressMiddleware

DIR_ENV = "ASGI_COMPRESS_TEST_STATIC"

app = CompressMiddleware(StaticFiles(directory=os.environ.get(DIR_ENV, "."), check_dir=False))
