"""Every judgement a response's way depends on, decided purely (asgi_compress/response/_decide.py):
one table per decision, and one table of every path, which must name every action and every
reason a decision can give."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from asgi_compress import PassReason as R
from asgi_compress import Settings
from asgi_compress.http._headers import ResponseHead
from asgi_compress.response import _decide
from asgi_compress.response._decide import (
    HOLD_LIMIT,
    NOTHING_ACCEPTED,
    Action,
    Coalesce,
    Decision,
    FilePlan,
    Hold,
    RequestView,
)

from ._views import BOTH, DCZ_HEAD, EXCLUDED, HEAD, MW, STRIPPED, passes

DCZ = RequestView("dcz", "dcz")
WHOLE_ONLY = RequestView("br", None)
NO_DELAY = Settings(flush_delay=0)
NO_STREAMS = Settings(streams=False)
HTML = [(b"content-type", b"text/html")]
HTML_5000 = [*HTML, (b"content-length", b"5000")]
COLLECTING = Hold(HOLD_LIMIT, collecting=True, timer=False)
COALESCING = Hold(HOLD_LIMIT, collecting=False, timer=True)


def head(headers: list[tuple[bytes, bytes]] = HTML) -> ResponseHead:
    return ResponseHead(headers)


def start(status: int, headers: list[tuple[bytes, bytes]], request: RequestView) -> Decision:
    return _decide.decide_start(status, head(headers), request, MW, enabled=True)


def held_file(**overrides: bool) -> FilePlan:
    facts = {"body_held": False, "sibling": False, "own_pathsend": False, "collecting": False}
    return _decide.decide_held_file(**{**facts, "gone": False, **overrides})


# Each row: a decision, its inputs, what it decides. Together they are every path a response
# can take; test_every_outcome_has_a_row checks that no action, reason or plan is missing.
PATHS = [
    pytest.param(start, (200, HTML, BOTH), Decision(Action.HOLD), id="start-hold"),
    pytest.param(start, (200, HTML, EXCLUDED), passes(R.EXCLUDED), id="start-excluded"),
    pytest.param(start, (304, [], STRIPPED), Decision(Action.NOT_MODIFIED), id="start-304-ours"),
    pytest.param(start, (204, HTML, BOTH), passes(R.STATUS), id="start-status"),
    pytest.param(
        lambda: _decide.decide_start(200, head(), BOTH, MW, enabled=False),
        (),
        passes(R.SKIPPED),
        id="start-skipped",
    ),
    pytest.param(
        start, (200, [*HTML, (b"content-encoding", b"br")], BOTH), passes(R.ENCODED),
        id="start-encoded",
    ),
    pytest.param(
        start, (200, [*HTML, (b"cache-control", b"no-transform")], BOTH), passes(R.NO_TRANSFORM),
        id="start-no-transform",
    ),
    pytest.param(
        start, (200, [*HTML, (b"content-range", b"bytes 0-1/9")], BOTH), passes(R.PARTIAL),
        id="start-partial",
    ),
    pytest.param(
        start, (200, [*HTML, (b"content-length", b"10")], BOTH), passes(R.SIZE), id="start-small"
    ),
    pytest.param(
        start, (200, [(b"content-type", b"image/png")], BOTH), passes(R.MEDIA_TYPE),
        id="start-media-type",
    ),
    pytest.param(
        start, (200, [(b"content-type", b"text/event-stream")], BOTH),
        Decision(Action.STREAM, "gzip"), id="start-event-stream",
    ),
    pytest.param(
        start, (200, HTML_5000, HEAD), Decision(Action.HEAD_ONLY, "br"), id="start-head-only"
    ),
    pytest.param(start, (200, HTML, NOTHING_ACCEPTED), passes(R.NOT_ACCEPTED), id="start-none"),
    pytest.param(
        lambda: _decide.decide_whole(5000, head(), BOTH, MW), (), Decision(Action.ONE_SHOT, "br"),
        id="whole-one-shot",
    ),
    pytest.param(
        lambda: _decide.decide_whole(4000, head(HTML_5000), BOTH, MW), (),
        passes(R.LENGTH_MISMATCH), id="whole-length-mismatch",
    ),
    pytest.param(_decide.decide_stream, (WHOLE_ONLY,), passes(R.NOT_ACCEPTED), id="stream-none"),
    pytest.param(
        lambda: _decide.decide_head_body(0, head(HTML_5000), DCZ_HEAD, MW, known=""), (),
        passes(R.NOT_SMALLER), id="head-body-get-unencoded",
    ),
    pytest.param(
        _decide.decide_encoded, ("br", None), passes(R.NOT_SMALLER), id="encoded-not-smaller"
    ),
    pytest.param(
        _decide.decide_encoded, ("br", b"x"), Decision(Action.ONE_SHOT, "br"), id="encoded-sent"
    ),
    pytest.param(
        _decide.decide_interrupted, (False, BOTH), passes(R.STARTED_OTHERWISE),
        id="interrupted-before-any-body",
    ),
    pytest.param(
        _decide.decide_interrupted, (True, BOTH), Decision(Action.STREAM, "gzip"),
        id="interrupted-after-body-bytes",
    ),
    pytest.param(
        _decide.decide_coalescing, (10, COALESCING, BOTH, MW), Coalesce.WAIT, id="coalesce-wait"
    ),
    pytest.param(
        _decide.decide_coalescing, (10, COLLECTING, BOTH, MW), Coalesce.COLLECT,
        id="coalesce-collect-for-the-cache",
    ),
    pytest.param(
        _decide.decide_coalescing, (10, COALESCING, BOTH, NO_DELAY), Coalesce.STREAM,
        id="coalesce-per-message",
    ),
    pytest.param(
        _decide.decide_coalescing, (HOLD_LIMIT, COLLECTING, BOTH, MW), Coalesce.STREAM,
        id="coalesce-hold-full",
    ),
    pytest.param(
        _decide.decide_coalescing, (10, COALESCING, WHOLE_ONLY, MW), Coalesce.STREAM,
        id="coalesce-no-stream-coding",
    ),
    pytest.param(
        lambda: held_file(body_held=True, sibling=True), (), FilePlan.PASS_AFTER_BODY,
        id="file-after-body-bytes",
    ),
    pytest.param(
        lambda: held_file(sibling=True, own_pathsend=True), (), FilePlan.SIBLING,
        id="file-sibling-first",
    ),
    pytest.param(
        lambda: held_file(own_pathsend=True, collecting=True), (), FilePlan.FEED,
        id="file-fed-when-ours",
    ),
    pytest.param(
        lambda: held_file(collecting=True), (), FilePlan.READ_WHOLE, id="file-read-whole-to-cache"
    ),
    pytest.param(
        lambda: held_file(collecting=True, gone=True), (), FilePlan.STREAM,
        id="file-client-gone-not-read-whole",
    ),
    pytest.param(lambda: held_file(), (), FilePlan.STREAM, id="file-streamed"),
]  # fmt: skip


@pytest.mark.parametrize(("decide", "args", "expected"), PATHS)
def test_every_path(decide: Callable[..., Any], args: tuple[Any, ...], expected: object) -> None:
    assert decide(*args) == expected


def test_every_outcome_has_a_row() -> None:
    outcomes = [param.values[2] for param in PATHS]
    decisions = [o for o in outcomes if isinstance(o, Decision)]
    assert {d.action for d in decisions} == set(Action)
    # The client leaving is seen by the responder, not decided: every other reason is.
    assert {d.reason for d in decisions if d.reason} == set(R) - {R.CLIENT_GONE}
    assert {o for o in outcomes if isinstance(o, Coalesce)} == set(Coalesce)
    assert {o for o in outcomes if isinstance(o, FilePlan)} == set(FilePlan)


@pytest.mark.parametrize(
    ("request_view", "policy", "report", "expected"),
    [
        pytest.param(NOTHING_ACCEPTED, False, False, True, id="nothing-accepted"),
        pytest.param(NOTHING_ACCEPTED, True, False, False, id="a-policy-to-consult"),
        pytest.param(NOTHING_ACCEPTED, False, True, False, id="a-report-wants-the-reason"),
        pytest.param(RequestView(None, None, is_head=True), False, False, False, id="head"),
        pytest.param(BOTH, False, False, False, id="accepted"),
    ],
)
def test_a_start_passes_unread_only_when_nothing_can_come_of_its_head(
    request_view: RequestView, policy: bool, report: bool, expected: bool
) -> None:
    assert _decide.passes_unread(request_view, policy=policy, report=report) is expected


def test_settings_without_streams_leave_no_stream_coding() -> None:
    assert _decide.request_for_settings(BOTH, NO_STREAMS) == RequestView("br", None)
    assert _decide.request_for_settings(BOTH, MW) is BOTH


@pytest.mark.parametrize(
    ("decision", "asked"),
    [
        pytest.param(Decision(Action.HOLD), True, id="hold"),
        pytest.param(Decision(Action.STREAM, "br"), True, id="stream"),
        pytest.param(Decision(Action.HEAD_ONLY, "br"), True, id="head-only"),
        pytest.param(passes(R.SIZE), False, id="pass"),
        pytest.param(Decision(Action.NOT_MODIFIED), False, id="apps-304"),
    ],
)
def test_the_dictionary_is_asked_only_when_the_start_may_encode(
    decision: Decision, asked: bool
) -> None:
    assert _decide.asks_dictionary(decision) is asked


def test_a_dcz_head_is_judged_again_and_held_like_its_get() -> None:
    first = start(200, HTML_5000, HEAD)
    assert first == Decision(Action.HEAD_ONLY, "br")
    again = _decide.decide_with_dictionary(first, 200, head(HTML_5000), DCZ_HEAD, MW, enabled=True)
    assert again == Decision(Action.HOLD)
    kept = _decide.decide_with_dictionary(first, 200, head(HTML_5000), HEAD, MW, enabled=True)
    assert kept is first


@pytest.mark.parametrize(
    ("declared", "cache_max", "settings", "expected"),
    [
        pytest.param(None, None, MW, Hold(HOLD_LIMIT, False, True), id="unknown-length-timer"),
        pytest.param(None, None, NO_DELAY, Hold(HOLD_LIMIT, False, False), id="no-delay"),
        pytest.param(5000, None, MW, Hold(HOLD_LIMIT, False, False), id="declared-no-cache"),
        pytest.param(5000, 10_000, MW, Hold(HOLD_LIMIT, True, False), id="cache-keeps-it"),
        pytest.param(
            HOLD_LIMIT * 4, HOLD_LIMIT * 8, MW, Hold(HOLD_LIMIT * 4, True, False),
            id="limit-grows-to-a-cached-body",
        ),
        pytest.param(
            HOLD_LIMIT * 4, HOLD_LIMIT, MW, Hold(HOLD_LIMIT, False, False),
            id="too-big-for-the-cache",
        ),
        pytest.param(None, 10_000, MW, Hold(HOLD_LIMIT, False, True), id="unknown-never-collected"),
    ],
)  # fmt: skip
def test_the_hold(
    declared: int | None, cache_max: int | None, settings: Settings, expected: Hold
) -> None:
    assert _decide.decide_hold(declared, cache_max, settings) == expected


@pytest.mark.parametrize(
    ("headers", "kept"),
    [
        pytest.param(HTML, True, id="html"),
        pytest.param([*HTML, (b"set-cookie", b"a=1")], False, id="sets-a-cookie"),
        pytest.param([(b"cache-control", b"private")], False, id="private"),
        pytest.param([(b"cache-control", b"no-store")], False, id="no-store"),
    ],
)
def test_which_whole_bodies_the_cache_may_keep(
    headers: list[tuple[bytes, bytes]], kept: bool
) -> None:
    assert _decide.keeps_whole(headers) is kept


def test_only_dcz_preconditions_wait_for_the_encoding() -> None:
    assert _decide.judged_after_encoding("dcz")
    assert not _decide.judged_after_encoding("br")


def test_no_content_length_with_trailers() -> None:
    assert _decide.encoded_length(120, trailers=False) == 120
    assert _decide.encoded_length(120, trailers=True) is None


def test_a_head_sends_no_body() -> None:
    assert _decide.body_sent(b"abc", BOTH) == b"abc"
    assert _decide.body_sent(b"abc", HEAD) == b""


def test_only_a_dcz_get_is_remembered_for_its_heads() -> None:
    assert _decide.remembers_outcome("dcz", DCZ)
    assert not _decide.remembers_outcome("dcz", DCZ_HEAD)
    assert not _decide.remembers_outcome("br", BOTH)
