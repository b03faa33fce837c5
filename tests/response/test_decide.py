"""What a response becomes, decided purely from the request, the head and the body size
(asgi_compress/response/_decide.py): every path in one table, no I/O."""

from __future__ import annotations

import pytest

from asgi_compress import PassReason as R
from asgi_compress import Settings
from asgi_compress.http._headers import ResponseHead
from asgi_compress.response._decide import (
    Action,
    Decision,
    RequestView,
    decide_head_body,
    decide_start,
    decide_stream,
    decide_whole,
)

from ._views import BOTH, DCZ_HEAD, EXCLUDED, HEAD, MW, STRIPPED, passes

NOTHING = RequestView(None, None)
QUART = Settings.from_config({})
HOLD = Decision(Action.HOLD)


def head(*pairs: tuple[str, str]) -> ResponseHead:
    return ResponseHead([(n.encode(), v.encode()) for n, v in pairs])


HTML = ("content-type", "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("status", "pairs", "request_view", "settings", "enabled", "expected"),
    [
        pytest.param(200, [HTML], BOTH, MW, True, HOLD, id="hold"),
        pytest.param(200, [HTML], EXCLUDED, MW, True, passes(R.EXCLUDED), id="excluded"),
        pytest.param(
            304, [], STRIPPED, MW, True, Decision(Action.NOT_MODIFIED), id="304-to-our-tag"
        ),
        pytest.param(304, [], BOTH, MW, True, passes(R.STATUS), id="304"),
        pytest.param(200, [HTML], BOTH, MW, False, passes(R.SKIPPED), id="skipped"),
        pytest.param(101, [HTML], BOTH, MW, True, passes(R.STATUS), id="1xx"),
        pytest.param(204, [HTML], BOTH, MW, True, passes(R.STATUS), id="204"),
        pytest.param(205, [HTML], BOTH, MW, True, passes(R.STATUS), id="205"),
        pytest.param(206, [HTML], BOTH, MW, True, passes(R.STATUS), id="206"),
        pytest.param(404, [HTML], BOTH, MW, True, HOLD, id="404-middleware"),
        pytest.param(422, [HTML], BOTH, MW, True, HOLD, id="422-middleware"),
        pytest.param(404, [HTML], BOTH, QUART, True, passes(R.STATUS), id="404-quart"),
        pytest.param(301, [HTML], BOTH, QUART, True, passes(R.STATUS), id="3xx-quart"),
        pytest.param(
            200,
            [HTML, ("content-encoding", "gzip")],
            BOTH,
            MW,
            True,
            passes(R.ENCODED),
            id="encoded",
        ),
        pytest.param(
            200,
            [HTML, ("cache-control", "no-transform")],
            BOTH,
            MW,
            True,
            passes(R.NO_TRANSFORM),
            id="no-transform",
        ),
        pytest.param(
            200,
            [HTML, ("content-range", "bytes 0-9/99")],
            BOTH,
            MW,
            True,
            passes(R.PARTIAL),
            id="content-range",
        ),
        pytest.param(
            200,
            [HTML, ("content-length", "499")],
            BOTH,
            MW,
            True,
            passes(R.SIZE),
            id="declared-small",
        ),
        pytest.param(
            200, [("content-type", "image/png")], BOTH, MW, True, passes(R.MEDIA_TYPE), id="png"
        ),
        pytest.param(
            200,
            [("content-type", "text/csv")],
            BOTH,
            QUART,
            True,
            passes(R.MEDIA_TYPE),
            id="csv-quart",
        ),
        pytest.param(
            200, [("content-type", "text/csv")], BOTH, MW, True, HOLD, id="csv-middleware"
        ),
        pytest.param(
            200,
            [("content-type", "text/event-stream")],
            BOTH,
            MW,
            True,
            Decision(Action.STREAM, "gzip"),
            id="event-stream",
        ),
        pytest.param(
            200,
            [HTML, ("content-length", "5000")],
            HEAD,
            MW,
            True,
            Decision(Action.HEAD_ONLY, "br"),
            id="head-with-length",
        ),
        pytest.param(200, [HTML], HEAD, MW, True, passes(R.SIZE), id="head-no-length"),
        pytest.param(
            200,
            [HTML, ("content-length", "5000")],
            DCZ_HEAD,
            MW,
            True,
            HOLD,
            id="dcz-head-waits-for-its-body",
        ),
        pytest.param(200, [HTML], DCZ_HEAD, MW, True, passes(R.SIZE), id="dcz-head-no-length"),
        pytest.param(200, [HTML], NOTHING, MW, True, passes(R.NOT_ACCEPTED), id="none-accepted"),
    ],
)
def test_decide_start(
    status: int,
    pairs: list[tuple[str, str]],
    request_view: RequestView,
    settings: Settings,
    enabled: bool,
    expected: Decision,
) -> None:
    assert decide_start(status, head(*pairs), request_view, settings, enabled=enabled) == expected


@pytest.mark.parametrize(
    ("size", "pairs", "request_view", "expected"),
    [
        pytest.param(5000, [HTML], BOTH, Decision(Action.ONE_SHOT, "br"), id="whole"),
        pytest.param(0, [HTML], BOTH, passes(R.SIZE), id="empty"),
        pytest.param(499, [HTML], BOTH, passes(R.SIZE), id="below-min-size"),
        pytest.param(
            5000,
            [HTML, ("content-length", "9000")],
            BOTH,
            passes(R.LENGTH_MISMATCH),
            id="shorter-than-declared",
        ),
        pytest.param(
            5000,
            [HTML],
            RequestView(None, "gzip"),
            passes(R.NOT_ACCEPTED),
            id="stream-coding-only",
        ),
    ],
)
def test_decide_whole(
    size: int, pairs: list[tuple[str, str]], request_view: RequestView, expected: Decision
) -> None:
    assert decide_whole(size, head(*pairs), request_view, MW) == expected


def test_decide_stream_uses_the_streaming_coding() -> None:
    assert decide_stream(BOTH) == Decision(Action.STREAM, "gzip")
    assert decide_stream(RequestView("br", None)) == passes(R.NOT_ACCEPTED)


@pytest.mark.parametrize(
    ("request_view", "expected"),
    [
        pytest.param(RequestView("br", "br", event_encoding="zstd"), "zstd", id="event-coding"),
        pytest.param(RequestView("br", "br"), "br", id="none-given-is-stream-coding"),
        pytest.param(RequestView("dcz", "dcz", event_encoding="gzip"), "dcz", id="dcz-kept"),
    ],
)
def test_event_stream_uses_the_event_coding(request_view: RequestView, expected: str) -> None:
    events = head(("content-type", "text/event-stream"))
    assert decide_start(200, events, request_view, MW, enabled=True) == Decision(
        Action.STREAM, expected
    )
    # Any other stream keeps the streaming coding.
    assert decide_stream(request_view) == Decision(Action.STREAM, request_view.stream_encoding)


@pytest.mark.parametrize(
    ("size", "known", "expected"),
    [
        pytest.param(5000, None, Decision(Action.ONE_SHOT, "dcz"), id="whole-body-weighed"),
        pytest.param(5000, "br", Decision(Action.ONE_SHOT, "dcz"), id="body-beats-memory"),
        pytest.param(0, "br", Decision(Action.HEAD_ONLY, "br"), id="get-sent-br"),
        pytest.param(0, "dcz", Decision(Action.HEAD_ONLY, "dcz"), id="get-sent-dcz"),
        pytest.param(0, "", passes(R.NOT_SMALLER), id="get-sent-unencoded"),
        pytest.param(0, None, Decision(Action.HEAD_ONLY, "dcz"), id="nothing-known-like-a-stream"),
        pytest.param(120, None, Decision(Action.HEAD_ONLY, "dcz"), id="partial-body-is-no-body"),
    ],
)  # fmt: skip
def test_decide_head_body(size: int, known: str | None, expected: Decision) -> None:
    declared = head(HTML, ("content-length", "5000"))
    assert decide_head_body(size, declared, DCZ_HEAD, MW, known=known) == expected
