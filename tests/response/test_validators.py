"""ETags of encoded responses (issue 16 items 2 and 9a): a 200 and the 304 that revalidates
it carry one validator, whoever answers the 304 (the app or us) and whatever makes the tag
weak; an unquoted ETag (BlackSheep sends one) gets a validator of its own per coding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from asgi_compress import CompressMiddleware, DictCache, ResponsePolicy
from asgi_compress._types import ASGIApp, Receive, Scope, Send
from asgi_compress.policy import SCOPE_KEY
from tests.harness import app_sending, body, decode, make_scope, run, start, text

PAGE = text(5000)


def _weak_match(if_none_match: bytes, etag: bytes) -> bool:
    """Starlette's rule (``is_not_modified``): weak comparison over a list of tags."""
    return etag.removeprefix(b"W/") in {
        t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")
    }


def _exact_match(if_none_match: bytes, etag: bytes) -> bool:
    """BlackSheep's rule (``get_response_for_file``): the header equals the tag, byte for byte."""
    return if_none_match == etag


def conditional(
    etag: str, *, match: Callable[[bytes, bytes], bool] = _weak_match, evaluate: bool = False
) -> ASGIApp:
    """An app serving PAGE with ``etag`` that answers its own 304 when If-None-Match matches
    (as StaticFiles or BlackSheep's files do); ``evaluate`` asks us to evaluate too."""
    tag = etag.encode("latin-1")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        policy = scope.get(SCOPE_KEY)
        if evaluate and isinstance(policy, ResponsePolicy):
            policy.evaluate_conditional = True
        held = dict(scope["headers"]).get(b"if-none-match")
        if held is not None and match(held, tag):
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", tag)]})
            await send(body())
            return
        await send(start(headers=[("etag", etag)], content_length=len(PAGE)))
        await send(body(PAGE))

    return app


OPTIONS: list[Any] = [
    pytest.param(lambda: {"cache": None}, id="no-cache"),
    pytest.param(dict, id="default-cache"),
    pytest.param(lambda: {"cache": DictCache(), "cache_levels": {"br": 11}}, id="cache-level"),
    pytest.param(lambda: {"cache": DictCache(), "cache_levels": {"gzip": 9}}, id="other-level"),
    pytest.param(lambda: {"cache": DictCache()}, id="cache"),
    pytest.param(lambda: {"breach_padding": 32}, id="padding"),
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("evaluate", [False, True], ids=["apps-304", "our-304"])
async def test_a_304_carries_the_validator_of_its_200(
    options: Callable[[], dict[str, Any]], evaluate: bool
) -> None:
    """RFC 9110 section 15.4.5: a 304 carries the ETag its 200 would have. With a cache level
    the 200's tag is weak (its bytes differ between a miss and a hit); the app's own 304 used
    to turn it strong again, so the client's cache held two validators for one response."""
    # Our 304 is seen only when the app does not answer first.
    match = (lambda held, tag: False) if evaluate else _weak_match
    app = CompressMiddleware(conditional('"x"', match=match, evaluate=evaluate), **options())
    first = await run(app, accept_encoding="br")
    assert decode("br", first.body) == PAGE
    tag = first.headers["etag"]
    again = await run(app, make_scope(headers=[("if-none-match", tag)], accept_encoding="br"))
    assert again.status == 304
    assert again.body == b""
    assert again.headers["etag"] == tag
    third = await run(app, accept_encoding="br")  # a cache hit, when one is configured
    assert third.headers["etag"] == tag


async def test_a_cache_level_makes_the_apps_304_weak() -> None:
    """The case issue 16 reported, spelled out."""
    app = CompressMiddleware(conditional('"x"'), cache=DictCache(), cache_levels={"br": 11})
    first = await run(app, accept_encoding="br")
    assert first.headers["etag"] == 'W/"x:br"'
    again = await run(
        app, make_scope(headers=[("if-none-match", 'W/"x:br"')], accept_encoding="br")
    )
    assert (again.status, again.headers["etag"]) == (304, 'W/"x:br"')


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("evaluate", [False, True], ids=["apps-304", "our-304"])
@pytest.mark.parametrize("held", ['"x:br"', 'W/"x:br"'], ids=["held-strong", "held-weak"])
async def test_a_304_carries_the_servers_validator_not_the_clients_form(
    options: Callable[[], dict[str, Any]], evaluate: bool, held: str
) -> None:
    """The client's tag may differ in weakness from the one the 200 carries now (it was
    stored before a cache level was set, or by an intermediary that weakened it): If-None-Match
    compares weakly, so it matches, and the 304 carries the current 200's validator (RFC 9110
    section 15.4.5), as our own 304 always did, not the client's form echoed back."""
    match = (lambda held, tag: False) if evaluate else _weak_match
    app = CompressMiddleware(conditional('"x"', match=match, evaluate=evaluate), **options())
    current = (await run(app, accept_encoding="br")).headers["etag"]
    again = await run(app, make_scope(headers=[("if-none-match", held)], accept_encoding="br"))
    assert (again.status, again.headers["etag"]) == (304, current)


# -- unquoted ETags (BlackSheep's ``str(st_mtime)``), invalid per RFC 9110 section 8.8.3 ------


@pytest.mark.parametrize(
    ("options", "sent", "expected"),
    [
        pytest.param(lambda: {"cache": None}, "1700000000.25", '"1700000000.25:br"', id="strong"),
        pytest.param(
            lambda: {"cache": DictCache(), "cache_levels": {"br": 11}},
            "1700000000.25",
            'W/"1700000000.25:br"',
            id="cache-level-weak",
        ),
        pytest.param(lambda: {"breach_padding": 16}, "abc", 'W/"abc:br"', id="padding-weak"),
        pytest.param(lambda: {"cache": None}, " abc ", '"abc:br"', id="spaces-around"),
        # A weak tag may be shared by every coding, as a quoted weak one is.
        pytest.param(dict, "W/abc", "W/abc", id="weak-kept"),
        pytest.param(dict, 'ab"c', 'ab"c', id="malformed-kept"),
    ],
)
async def test_an_unquoted_etag_gets_a_validator_per_coding(
    options: Callable[[], dict[str, Any]], sent: str, expected: str
) -> None:
    """An unquoted tag is read as the opaque-tag it spells: ``abc`` is ``"abc"``, so the br
    representation gets ``"abc:br"`` and no longer shares the identity one's validator."""
    app = CompressMiddleware(conditional(sent, match=_exact_match), **options())
    encoded = await run(app, accept_encoding="br")
    assert encoded.headers["etag"] == expected
    assert decode("br", encoded.body) == PAGE
    identity = await run(app, accept_encoding="identity")
    assert identity.headers["etag"] == sent
    assert identity.body == PAGE


async def test_our_304_matches_the_suffixed_form_of_an_unquoted_etag() -> None:
    """With conditional evaluation (the Quart extension's default) the client's ``"abc:br"``
    is answered 304 with that tag; the identity tag ``abc`` names another representation and
    does not match the br one. (The app here never answers 304 itself.)"""
    never = conditional("abc", match=lambda held, tag: False, evaluate=True)
    app = CompressMiddleware(never, cache=None)  # no cache: its levels make the tag weak
    held = await run(app, make_scope(headers=[("if-none-match", '"abc:br"')], accept_encoding="br"))
    assert (held.status, held.headers["etag"], held.body) == (304, '"abc:br"', b"")
    for other in ("abc", '"abc"', '"abc:gzip"'):
        got = await run(app, make_scope(headers=[("if-none-match", other)], accept_encoding="br"))
        assert (got.status, got.headers["etag"]) == (200, '"abc:br"')
        assert decode("br", got.body) == PAGE


async def test_the_apps_304_with_an_unquoted_etag_gets_the_suffixed_validator() -> None:
    """An app that reads quotes loosely answers the stripped ``"abc"`` with its own ``abc``:
    the 304 carries the client's ``"abc:br"``, the tag of the 200 it revalidates."""
    loose = conditional("abc", match=lambda held, tag: held.strip(b'"') == tag)
    app = CompressMiddleware(loose, cache=None)
    first = await run(app, accept_encoding="br")
    assert first.headers["etag"] == '"abc:br"'
    again = await run(
        app, make_scope(headers=[("if-none-match", first.headers["etag"])], accept_encoding="br")
    )
    assert (again.status, again.headers["etag"]) == (304, first.headers["etag"])


@pytest.mark.parametrize(
    ("options", "tag"),
    [
        pytest.param(lambda: {"cache": None}, '"abc:br"', id="no-cache"),
        pytest.param(dict, 'W/"abc:br"', id="default-cache-weak"),
    ],
)
async def test_an_app_comparing_bytes_gets_its_unquoted_validator_answered(
    options: Callable[[], dict[str, Any]], tag: str
) -> None:
    """BlackSheep compares If-None-Match with its unquoted tag byte for byte, so the ``"abc"``
    we hand it for ``"abc:br"`` never matches: we answer that 304, or every revalidation of an
    encoded file would download it again. A tag for another representation still does not
    match, and the identity representation is still the app's to answer."""
    app = CompressMiddleware(conditional("abc", match=_exact_match), **options())
    first = await run(app, accept_encoding="br")
    assert first.headers["etag"] == tag
    held = await run(app, make_scope(headers=[("if-none-match", tag)], accept_encoding="br"))
    assert (held.status, held.headers["etag"], held.body) == (304, tag, b"")
    other = await run(
        app, make_scope(headers=[("if-none-match", '"abc:gzip"')], accept_encoding="br")
    )
    assert (other.status, other.headers["etag"]) == (200, tag)
    assert decode("br", other.body) == PAGE
    identity = await run(app, make_scope(headers=[("if-none-match", "abc")]))
    assert (identity.status, identity.headers["etag"], identity.body) == (304, "abc", b"")


# -- which requests we answer with 304/412 -----------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "condition",
    [
        ("if-none-match", "*"),
        ("if-none-match", '"v:gzip"'),
        ("if-match", '"other"'),
        ("if-modified-since", "Wed, 21 Oct 2026 07:28:00 GMT"),
    ],
    ids=["inm-star", "inm-match", "if-match-fails", "ims"],
)
async def test_unsafe_methods_get_the_apps_answer(method: str, condition: tuple[str, str]) -> None:
    """RFC 9110 section 13.2.1: 304 only for GET/HEAD, and for other methods only the app
    knows whether it acted: a PUT whose handler returned 201 is never turned into 304/412."""
    head = start(
        status=201,
        headers=[("etag", '"v"'), ("last-modified", "Wed, 21 Oct 2026 07:28:00 GMT")],
    )
    app = CompressMiddleware(app_sending([head, body(PAGE)], evaluate_conditional=True))
    rec = await run(app, make_scope(method=method, headers=[condition], accept_encoding="gzip"))
    assert rec.status == 201
    assert decode("gzip", rec.body) == PAGE


async def test_no_trailers_after_our_own_304() -> None:
    head = start(headers=[("etag", '"v"')], trailers=True)
    trailers = {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]}
    app = CompressMiddleware(app_sending([head, body(PAGE), trailers], evaluate_conditional=True))
    rec = await run(
        app, make_scope(headers=[("if-none-match", '"v:gzip"')], accept_encoding="gzip")
    )
    assert rec.status == 304
    assert [m["type"] for m in rec.messages] == ["http.response.start", "http.response.body"]


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        pytest.param('"a,b:br"', 304, id="comma-inside-the-tag"),
        pytest.param('"x", "a,b:br"', 304, id="in-a-list"),
        pytest.param('"a:br"', 200, id="a-different-tag"),
    ],
)
async def test_an_entity_tag_may_hold_a_comma(if_none_match: str, status: int) -> None:
    msgs = [start(headers=[("etag", '"a,b"')]), body(PAGE)]
    scope = make_scope(headers=[("if-none-match", if_none_match)], accept_encoding="br")
    rec = await run(CompressMiddleware(app_sending(msgs, evaluate_conditional=True)), scope)
    assert rec.status == status


async def test_our_304_keeps_last_modified() -> None:
    """RFC 9110 section 15.4.5: caches use it to update the response they stored."""
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    msgs = [start(headers=[("etag", '"v"'), ("last-modified", date)]), body(PAGE)]
    scope = make_scope(headers=[("if-none-match", '"v:br"')], accept_encoding="br")
    rec = await run(CompressMiddleware(app_sending(msgs, evaluate_conditional=True)), scope)
    assert rec.status == 304
    assert rec.headers["last-modified"] == date
