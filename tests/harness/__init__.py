"""The test harness: a scripted ASGI server and independent decoders, imported by the tests.

- ``asgi.py``: ``run`` an app against a scripted :class:`Client` and get the messages back as
  a :class:`Recorded`; ``make_scope``, ``app_sending``, ``start`` and ``body`` build requests
  and apps.
- ``codings.py``: :class:`Decoder` and ``decode`` (stdlib zlib, brotli, the zstd module, never
  our encoder), ``gzip_bytes`` and the ``text`` payload.
- ``dcz.py``: the same for Compression Dictionary Transport (the dictionary as a raw prefix).
- ``tracked.py``: the encoders and Accept-Encoding parses the middleware makes, seen through
  the public registry.
- ``mediatypes.py``: the media type lists the defaults are compared with.
- ``servers.py``, ``redis_server.py``: real servers in subprocesses, for the interop tests.

The names of ``asgi.py`` and ``codings.py`` are re-exported here: ``from tests.harness import
run, decode``. ``conftest.py`` holds only fixtures and hooks.
"""

from pathlib import Path

from .asgi import Client, Recorded, app_sending, body, make_scope, run, start
from .codings import ENCODINGS, ZSTD_MAX_WINDOW_LOG, Decoder, decode, gzip_bytes, text

__all__ = [
    "REPO",
    "ENCODINGS",
    "ZSTD_MAX_WINDOW_LOG",
    "Client",
    "Decoder",
    "Recorded",
    "app_sending",
    "body",
    "decode",
    "gzip_bytes",
    "make_scope",
    "run",
    "start",
    "text",
]

REPO = Path(__file__).resolve().parents[2]  # the repository: where servers run, docs live
