"""What happened to each response: the record an ``on_response`` hook receives.

The middleware calls the hook once per HTTP response it saw, after the last byte went out,
with a :class:`CompressionReport`: the coding sent or the reason the response passed
untouched, the bytes the app produced and the bytes that reached the server, and the time
spent inside codecs. With no hook set nothing is measured or built.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CompressionReport", "PassReason", "ReportHook", "deliver"]

logger = logging.getLogger("asgi_compress")


class PassReason(str, enum.Enum):
    """Why a response went out without a coding of ours."""

    NOT_ACCEPTED = "not-accepted"
    """The request accepts none of the configured codings."""
    EXCLUDED = "excluded"
    """Its path matches ``exclude_paths``."""
    SKIPPED = "skipped"
    """The app opted out (``skip_compression``, ``@uncompressed()``, ``COMPRESS_REGISTER``)."""
    STATUS = "status"
    """A status that carries no content to compress (1xx, 204, 205, 206, 304; non-2xx in
    the Quart extension, as in Flask-Compress)."""
    ENCODED = "already-encoded"
    """The app set a Content-Encoding of its own."""
    NO_TRANSFORM = "no-transform"
    """``Cache-Control: no-transform`` (RFC 9111 section 5.2.2.6)."""
    PARTIAL = "partial"
    """A Content-Range response: its body is a slice of the identity bytes."""
    MEDIA_TYPE = "media-type"
    """Its media type is not in ``mimetypes`` (or is in ``exclude_mimetypes``)."""
    SIZE = "size"
    """Empty, or smaller than ``min_size``."""
    NOT_SMALLER = "not-smaller"
    """Encoding did not make it smaller (already compressed data)."""
    LENGTH_MISMATCH = "length-mismatch"
    """The body's length contradicts the app's Content-Length: passed for the server to see."""
    CLIENT_GONE = "client-gone"
    """The client disconnected before the response was decided."""
    STARTED_OTHERWISE = "passed"
    """The app's messages left no choice: a head followed by a message type we do not encode
    (trailers first, an early hint, an unknown extension message)."""


@dataclass(frozen=True, slots=True)
class CompressionReport:
    """One response, as the middleware handled it.

    Attributes:
        coding: the content coding sent (``"br"``...), or ``None`` when it passed.
        reason: why it passed, or ``None`` when it was encoded.
        status: the status sent to the client (our own 304/412 included).
        media_type: the response's media type, lowercase without parameters ("" if none).
        bytes_in: body bytes the app produced (for a path send, the file's bytes read).
        bytes_out: body bytes handed to the server.
        codec_seconds: time spent in the codec (``time.perf_counter``), threads included.
        cached: the encoded body came from the cache.
        path: the request's path from the server's root (``root_path`` counted once,
            whether or not the scope's ``path`` already holds it).
    """

    coding: str | None
    reason: PassReason | None
    status: int
    media_type: str
    bytes_in: int
    bytes_out: int
    codec_seconds: float
    cached: bool
    path: str


ReportHook = Callable[[CompressionReport], None]
"""The ``on_response`` option: called once per response, on the event loop; keep it cheap
(count, observe a histogram). An exception it raises is logged, never sent to the client."""


def deliver(report: CompressionReport, hook: ReportHook | None) -> None:
    """Log ``report`` at DEBUG (one line per response) and hand it to ``hook``; a failing
    hook is logged, never raised into the response."""
    logger.debug(
        "%s %s: %s",
        report.path,
        report.status,
        report.coding or (report.reason and report.reason.value),
    )
    if hook is not None:
        try:
            hook(report)
        except Exception:
            logger.exception("the on_response hook failed")
