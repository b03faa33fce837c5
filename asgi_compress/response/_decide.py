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
   dictionary the client holds: GET sends dcz or the ordinary coding, whichever is smaller),
   its head is held like GET's, and :func:`decide_head_body` reads its body.

Around these, the smaller judgements the responder used to make itself, each a pure function
here: whether a start may skip reading the head (:func:`passes_unread`), what a policy's
settings change in the request (:func:`request_for_settings`), when the dictionary layer is
asked and what then (:func:`asks_dictionary`, :func:`decide_with_dictionary`), how long a
held body may grow (:func:`decide_hold`) and whether it waits for more
(:func:`decide_coalescing`), what a message of another type does to a held head
(:func:`decide_interrupted`), whether a whole body may be cached (:func:`keeps_whole`), when
preconditions are judged (:func:`judged_after_encoding`), what an encoded body that did not
shrink becomes (:func:`decide_encoded`), the encoded Content-Length
(:func:`encoded_length`), a HEAD's body (:func:`body_sent`), whether a HEAD may learn from
its GET (:func:`remembers_outcome`), and how a held path send is answered
(:func:`decide_held_file`).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple

from ..cache import cacheable
from ..dictionaries.transport import DCZ
from ..http._headers import ResponseHead
from ..report import PassReason
from ..settings import Settings

if TYPE_CHECKING:
    from .._types import Headers

__all__ = [
    "HOLD_LIMIT",
    "NOTHING_ACCEPTED",
    "Action",
    "Coalesce",
    "Decision",
    "FilePlan",
    "Hold",
    "RequestView",
    "asks_dictionary",
    "body_sent",
    "decide_coalescing",
    "decide_encoded",
    "decide_head_body",
    "decide_held_file",
    "decide_hold",
    "decide_interrupted",
    "decide_start",
    "decide_stream",
    "decide_whole",
    "decide_with_dictionary",
    "encoded_length",
    "judged_after_encoding",
    "keeps_whole",
    "passes_unread",
    "remembers_outcome",
    "request_for_settings",
]

HOLD_LIMIT = 256 * 1024
"""Body bytes a held response may collect before it becomes a stream: a body that ends
within it is answered whole, with a Content-Length and the best ratio."""


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


# -- the start ---------------------------------------------------------------------------


def passes_unread(request: RequestView, *, policy: bool, report: bool) -> bool:
    """Whether a start may pass without its head being read: a request that accepts none of
    our codings (the common case of bots and health checks), with no policy to consult and
    no report to give. Every path through :func:`decide_start` then ends in a pass with
    Vary, and only a report would need its reason."""
    return request is NOTHING_ACCEPTED and not policy and not report


def request_for_settings(request: RequestView, settings: Settings) -> RequestView:
    """The request as the response's settings see it: a policy's settings without
    ``streams`` (read at the start: an extension's live config may change it) leave no
    coding for streams."""
    return request if settings.streams else request._replace(stream_encoding=None)


def asks_dictionary(decision: Decision) -> bool:
    """Whether the dictionary layer is asked for a dcz choice: whenever the start may encode,
    not for a pass nor for the app's 304 (its client holds a representation already)."""
    return decision.action is not Action.PASS and decision.action is not Action.NOT_MODIFIED


def decide_with_dictionary(
    decision: Decision,
    status: int,
    head: ResponseHead,
    request: RequestView,
    settings: Settings,
    *,
    enabled: bool,
) -> Decision:
    """The start's decision once the layer chose (or not) a dictionary: a request whose
    codings became dcz is judged again, the same way (a dcz HEAD is held like its GET)."""
    if request.encoding != DCZ:
        return decision
    return decide_start(status, head, request, settings, enabled=enabled)


# -- a held response -----------------------------------------------------------------------


class Hold(NamedTuple):
    """How a held response collects its body.

    Attributes:
        limit: the bytes it may hold before it becomes a stream.
        collecting: a declared body the cache would keep, held whole however slowly it
            comes (streamed, it is never kept).
        timer: arm the pause timer at once, so that a pause before the first body sends
            the head on time (a body of unknown length, with ``flush_delay``).
    """

    limit: int
    collecting: bool
    timer: bool


def decide_hold(declared: int | None, cache_max_size: int | None, settings: Settings) -> Hold:
    """How a held response with ``declared`` Content-Length collects its body, under a
    cache that keeps bodies up to ``cache_max_size`` (``None``: no cache)."""
    collecting = cache_max_size is not None and declared is not None and declared <= cache_max_size
    limit = max(HOLD_LIMIT, declared or 0) if collecting else HOLD_LIMIT
    return Hold(limit, collecting, declared is None and bool(settings.flush_delay))


class Coalesce(enum.Enum):
    STREAM = "stream"
    """Start the stream now with what is held."""
    WAIT = "wait"
    """Wait for more: the pause timer bounds how long."""
    COLLECT = "collect"
    """Wait for the body's last byte, however long it takes."""


def decide_coalescing(held: int, hold: Hold, request: RequestView, settings: Settings) -> Coalesce:
    """What a held response that now holds ``held`` bytes (its body not ended) does next.

    Coalescing waits for more only when a stream coding would follow; per-message flushing
    (``flush_delay=0``) starts the stream at once, as does a full hold. A body the cache
    would keep waits for its last byte (a FileResponse's chunks are disk reads on a thread).
    """
    if not settings.flush_delay or held >= hold.limit or request.stream_encoding is None:
        return Coalesce.STREAM
    return Coalesce.COLLECT if hold.collecting else Coalesce.WAIT


def decide_interrupted(body_held: bool, request: RequestView) -> Decision:
    """A held response meets a message of another type (trailers, early hints, unknown):
    the held head must go first, as a stream when body bytes showed it is one, else
    unchanged, since nothing decided its coding yet."""
    return decide_stream(request) if body_held else PASS[PassReason.STARTED_OTHERWISE]


# -- a whole body -------------------------------------------------------------------------


def keeps_whole(headers: Headers) -> bool:
    """Whether a whole body may be looked up in and kept by the response cache: any body
    answered whole (one message, a declared length, or messages that ended within the
    hold, which a stream of unknown length often does: an export built in memory) whose
    head allows it. The cache's admission rule, not this, keeps unique bodies from being
    recompressed; a stream that outgrew the hold was never whole, so never kept."""
    return cacheable(headers)


def judged_after_encoding(coding: str) -> bool:
    """Whether the preconditions of a whole body encoded with ``coding`` wait for its
    encoding: a dcz answer's are judged on the representation that goes out (dcz or the
    ordinary coding, the smaller); every other coding's before any encoding work."""
    return coding == DCZ


def decide_encoded(coding: str, encoded: bytes | None) -> Decision:
    """A whole body after its encoding: sent in ``coding``, or as it came when encoding did
    not make it smaller (``encoded`` is ``None``)."""
    return PASS[PassReason.NOT_SMALLER] if encoded is None else Decision(Action.ONE_SHOT, coding)


def encoded_length(size: int, *, trailers: bool) -> int | None:
    """The Content-Length of an encoded whole body (or sibling) of ``size`` bytes: none with
    trailers, since the body then goes out chunked and a length would contradict it."""
    return None if trailers else size


def body_sent(body: bytes, request: RequestView) -> bytes:
    """The bytes that go out for ``body``: none for a HEAD (RFC 9110 section 9.3.2)."""
    return b"" if request.is_head else body


def remembers_outcome(coding: str, request: RequestView) -> bool:
    """Whether the coding a whole body went out in is kept for HEADs of its ETag: a GET's
    body weighed as dcz against the ordinary coding."""
    return coding == DCZ and not request.is_head


# -- a held path send (ASGI path send extension) -------------------------------------------


class FilePlan(enum.Enum):
    PASS_AFTER_BODY = "pass-after-body"
    """Body bytes came before it: not a file response; the head, the bytes, the file, as
    they came."""
    SIBLING = "sibling"
    """Send the file's fresh precompressed sibling, if there is one (else plan again)."""
    FEED = "feed"
    """Read the file as the app's body messages would have come (the middleware offered the
    extension): a whole file is answered, and cached, as a whole body."""
    READ_WHOLE = "read-whole"
    """Read it whole as one body: a file the cache would keep (streamed, it never is)."""
    STREAM = "stream"
    """Encode it as a stream, read and encoded on worker threads."""


def decide_held_file(
    *, body_held: bool, sibling: bool, own_pathsend: bool, collecting: bool, gone: bool
) -> FilePlan:
    """How a held response answers the app's path send. ``sibling``: a sibling may still
    answer (``precompressed`` is set and none was looked for yet)."""
    if body_held:
        return FilePlan.PASS_AFTER_BODY
    if sibling:
        return FilePlan.SIBLING
    if own_pathsend:
        return FilePlan.FEED
    if collecting and not gone:
        return FilePlan.READ_WHOLE
    return FilePlan.STREAM
