"""What a response becomes: pure decisions from the request, the head and the first body.

The responder (``_responder.py``) carries these decisions out and does nothing else that
needs judgement, so every path a response can take is visible here and table-tested
without any I/O (``tests/response/test_decide.py``).

1. :func:`decide_start` reads the request and ``http.response.start``: pass the response
   through (with the reason), answer the app's 304 to our stripped validator, encode an
   event stream or a HEAD at once, or hold the head until the body tells more.
2. A held response then becomes a whole body (:func:`decide_whole`: one-shot, Content-Length
   and only-if-smaller apply) or a stream (:func:`decide_stream`), depending on whether the
   app's body ends before the responder's hold ends.
3. A HEAD is answered with the head its GET would get. When that depends on the body (a
   dictionary the client holds: GET sends dcz or the ordinary coding, whichever is smaller,
   issue 12), its head is held like GET's, and :func:`decide_head_body` reads its body.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from ..dictionaries.transport import DCZ
from ..http._headers import ResponseHead
from ..report import PassReason
from ..settings import Settings

__all__ = [
    "NOTHING_ACCEPTED",
    "Action",
    "Decision",
    "RequestView",
    "decide_head_body",
    "decide_start",
    "decide_stream",
    "decide_whole",
]


class RequestView(NamedTuple):
    """What a response's fate depends on in its request, read once by the middleware.

    Attributes:
        encoding: the coding negotiated for whole bodies, or ``None``.
        stream_encoding: the coding negotiated for streams (``algorithm_streaming``).
        is_head: a HEAD request: the head must say what GET's would.
        validators: the GET/HEAD request's If-None-Match / If-Match / If-Modified-Since as
            sent (our suffixes included); empty for other methods, whose preconditions the
            app alone can judge, since only it knows whether it acted (RFC 9110 13.2.1).
        stripped: our ETag suffixes removed from the app's view: ``b'"a"' -> b"br"``.
        excluded: the path is in ``exclude_paths``: never encoded, no Vary.
        event_encoding: the coding for an event stream: ``stream_encoding``'s list with the
            codings that hold much per open stream last (``None``: ``stream_encoding``).
    """

    encoding: str | None
    stream_encoding: str | None
    is_head: bool = False
    validators: dict[bytes, bytes] = {}
    stripped: dict[bytes, bytes] = {}
    excluded: bool = False
    event_encoding: str | None = None


class Action(enum.Enum):
    PASS = "pass"
    """Send the app's head (Vary merged) and everything after it unchanged."""
    NOT_MODIFIED = "not-modified"
    """The app's 304 answers a validator we stripped: give its ETag our suffix back."""
    HOLD = "hold"
    """Keep the head until the body says whole body or stream."""
    STREAM = "stream"
    """Encode as a stream from the head on (event streams: every event flushed)."""
    HEAD_ONLY = "head-only"
    """A HEAD whose GET would be encoded: the encoded head, no body."""
    ONE_SHOT = "one-shot"
    """Encode the whole body at once, with its encoded Content-Length."""


class Decision(NamedTuple):
    action: Action
    coding: str | None = None
    reason: PassReason | None = None


PASS = {reason: Decision(Action.PASS, None, reason) for reason in PassReason}
NOTHING_ACCEPTED = RequestView(None, None)
"""The view of a (non-HEAD) request that accepts none of our codings."""
HOLD = Decision(Action.HOLD)
NOT_MODIFIED = Decision(Action.NOT_MODIFIED)

# 1xx, and the statuses that carry no content of their own to encode: 204/205 have none,
# 206 is a slice of the identity bytes, 304 refers to a representation the client holds.
_NO_CONTENT = frozenset((204, 205, 206, 304))


def decide_start(
    status: int, head: ResponseHead, request: RequestView, settings: Settings, *, enabled: bool
) -> Decision:
    """The fate of a response as far as ``http.response.start`` tells it."""
    if request.excluded:
        return PASS[PassReason.EXCLUDED]
    if status == 304 and request.stripped:
        return NOT_MODIFIED
    if not enabled:
        return PASS[PassReason.SKIPPED]
    if status < 200 or status in _NO_CONTENT or (settings.success_only and status >= 300):
        return PASS[PassReason.STATUS]
    if head.encoded:
        return PASS[PassReason.ENCODED]
    if head.no_transform:
        return PASS[PassReason.NO_TRANSFORM]
    if head.partial:
        return PASS[PassReason.PARTIAL]
    length = head.content_length
    if length is not None and (length == 0 or length < settings.min_size):
        return PASS[PassReason.SIZE]
    if not settings.is_compressible_type(head.media_type):
        return PASS[PassReason.MEDIA_TYPE]
    if head.media_type == "text/event-stream":
        # An event must not wait for the next one: the head goes now, each event is flushed.
        return decide_stream(request, events=True)
    if request.is_head:
        # A HEAD has no body to judge. GET's decision is known only from a Content-Length
        # (>= min_size, checked above); without one, GET's body could be a short one-shot
        # left unencoded, so the HEAD is answered unencoded, which is always valid.
        if length is None:
            return PASS[PassReason.SIZE]
        coding = request.encoding
        if coding == DCZ:
            # GET's whole body goes out as dcz or as the ordinary coding, whichever is
            # smaller: hold the head, as GET's is, until the body tells.
            return HOLD
        return Decision(Action.HEAD_ONLY, coding) if coding else PASS[PassReason.NOT_ACCEPTED]
    if request.encoding is None and request.stream_encoding is None:
        return PASS[PassReason.NOT_ACCEPTED]
    return HOLD


def decide_whole(
    size: int, head: ResponseHead, request: RequestView, settings: Settings
) -> Decision:
    """The fate of a held response whose whole body (``size`` bytes) is known."""
    coding = request.encoding
    if coding is None:
        return PASS[PassReason.NOT_ACCEPTED]
    if size == 0 or size < settings.min_size:
        return PASS[PassReason.SIZE]
    declared = head.content_length
    if declared is not None and declared != size:
        # The app's body contradicts its own head: pass it, so the server sees the mismatch
        # and ends the message as incomplete (RFC 9112 section 6.3), as it would without us.
        return PASS[PassReason.LENGTH_MISMATCH]
    return Decision(Action.ONE_SHOT, coding)


def decide_stream(request: RequestView, *, events: bool = False) -> Decision:
    """The fate of a held response whose body turned out to be a stream, or (``events``) of
    an event stream."""
    coding = request.stream_encoding
    if events and coding is not None and coding != DCZ and request.event_encoding is not None:
        # Both come from the same codings at the same q, so one is None only if both are;
        # a dictionary (dcz, chosen later) keeps its place.
        coding = request.event_encoding
    return Decision(Action.STREAM, coding) if coding else PASS[PassReason.NOT_ACCEPTED]


def decide_head_body(
    size: int,
    head: ResponseHead,
    request: RequestView,
    settings: Settings,
    *,
    known: str | None = None,
) -> Decision:
    """The fate of a held HEAD whose body ended after ``size`` bytes.

    Args:
        known: the coding a GET of the same strong ETag went out in (``""``: unencoded),
            when one was answered here.

    Returns:
        With the whole body (``size`` is the Content-Length: some frameworks send it on HEAD
        and the server drops it), ``ONE_SHOT``: judged as GET's whole body is, dcz weighed
        against the ordinary coding. Without it, what GET sent if known; else the head GET
        sends for a body it cannot weigh (one too long to hold, or streamed):
        ``request.encoding``'s, without a Content-Length.
    """
    coding = request.encoding
    if coding is None:
        return PASS[PassReason.NOT_ACCEPTED]
    if size == head.content_length:
        return Decision(Action.ONE_SHOT, coding)
    if known == "":
        return PASS[PassReason.NOT_SMALLER]
    return Decision(Action.HEAD_ONLY, known or coding)
