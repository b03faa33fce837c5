"""What a request asks of us, read once from its head, and the scope its app is given.

The middleware reads each request's head once (:func:`read_request_head`): its
Accept-Encoding and its validators. What an Accept-Encoding value lets us send is an
:class:`Offer`, made once per distinct value and remembered by the middleware. When the app
must see something other than the server's scope (our ETag suffixes stripped from its
validators, zero-copy send withdrawn, path send offered), the scope is copied once
(:func:`prepare_for_app`, :func:`offer_pathsend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .dictionaries._layer import DictionaryLayer
from .dictionaries.transport import DictionaryRequest, dcz_etag_token
from .http._headers import strip_validator_suffixes
from .response._decide import NOTHING_ACCEPTED, RequestView

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._types import Scope
    from .dictionaries.options import DictionarySettings

__all__ = [
    "EXCLUDED",
    "NO_OFFER",
    "PATHSEND",
    "SAFE",
    "ZEROCOPY",
    "Offer",
    "make_offer",
    "offer_pathsend",
    "prepare_for_app",
    "read_request_head",
]

_VALIDATORS = (b"if-none-match", b"if-match", b"if-modified-since")
_READ = frozenset((b"accept-encoding", *_VALIDATORS))  # the request headers we read
ZEROCOPY = "http.response.zerocopysend"
PATHSEND = "http.response.pathsend"
SAFE = frozenset(("GET", "HEAD"))
"""The methods whose preconditions are ours to answer (RFC 9110 section 13.2.1)."""


class Offer(NamedTuple):
    """What one Accept-Encoding value lets us send: the views of a request without
    validators (GET and the rest, HEAD), and the codings we may encode with."""

    get: RequestView
    head: RequestView
    tokens: tuple[str, ...]  # sorted; empty: nothing accepted, so never encoded


# Never encoded: Vary is still merged, so that caches keep the variants apart.
NO_OFFER = Offer(NOTHING_ACCEPTED, RequestView(None, None, is_head=True), ())
EXCLUDED = RequestView(None, None, excluded=True)


def make_offer(
    encoding: str | None, stream_encoding: str | None, event_encoding: str | None
) -> Offer:
    """The offer of the codings negotiated for whole bodies, streams and event streams."""
    if encoding is None and stream_encoding is None:
        return NO_OFFER
    codings = (encoding, stream_encoding, event_encoding)
    tokens = tuple(sorted({t for t in codings if t is not None}))
    get = RequestView(encoding, stream_encoding, event_encoding=event_encoding)
    return Offer(get, get._replace(is_head=True), tokens)


def read_request_head(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[bytes, dict[bytes, bytes] | None]:
    """The request's Accept-Encoding (its lines joined with ``,``; absent and empty ask for
    the same: nothing) and its validators (``None`` when it sent none), in one pass."""
    accept = b""
    validators: dict[bytes, bytes] | None = None
    for name, value in headers:
        # Servers send lowercase names (ASGI); anything else still counts.
        if name not in _READ and (name.islower() or (name := name.lower()) not in _READ):
            continue
        if name == b"accept-encoding":
            accept = accept + b"," + value if accept else value
        else:
            if validators is None:
                validators = {}
            old = validators.get(name)
            validators[name] = value if old is None else old + b"," + value
    return accept, validators


def offer_pathsend(scope: Scope, extensions: dict[str, object] | None) -> Scope:
    """A copy of the scope offering the app the path send extension, so that StaticFiles
    names its files (the responder then sends a sibling, or the file, itself)."""
    offered = dict(extensions) if extensions else {}
    offered[PATHSEND] = {}
    scope = dict(scope)  # a clean dict is cloned whole
    scope["extensions"] = offered
    return scope


async def prepare_for_app(
    scope: Scope,
    request: RequestView,
    tokens: tuple[str, ...],
    validators: dict[bytes, bytes] | None,
    dictionaries: DictionarySettings | None,
    own_pathsend: bool,
) -> tuple[Scope, RequestView, DictionaryLayer | None]:
    """The scope the app gets, the request's view and its dictionary layer, for a request
    that has validators, zerocopysend or dictionary options: the scope is copied once."""
    codings = set(tokens)
    layer = None
    if dictionaries is not None:
        layer = await _dictionary_layer(dictionaries, scope, codings)
    stripped: dict[bytes, bytes] = {}
    extensions = scope.get("extensions")
    if validators or own_pathsend or (extensions is not None and ZEROCOPY in extensions):
        scope, stripped = _scope_for_app(scope, tuple(sorted(codings)), own_pathsend=own_pathsend)
    # Only GET and HEAD are ours to answer with 304/412; for other methods only the app
    # knows whether it acted (RFC 9110 section 13.2.1).
    safe = validators if validators and scope.get("method", "GET") in SAFE else {}
    if safe or stripped:
        request = request._replace(validators=safe, stripped=stripped)
    return scope, request, layer


async def _dictionary_layer(
    dictionaries: DictionarySettings, scope: Scope, tokens: set[str]
) -> DictionaryLayer:
    """The request's dictionary layer, its dictionary looked up once, before the app runs.
    When found, its dcz ETag suffix joins ``tokens``: a validator the client holds for the
    dcz representation is stripped for the app like any of ours."""
    request = DictionaryRequest.from_scope(scope)
    found = await dictionaries.lookup(request.available) if request.accepts_dcz else None
    if found is not None:
        tokens.add(dcz_etag_token(found))
    return DictionaryLayer(dictionaries, request, found)


def _scope_for_app(
    scope: Scope, tokens: tuple[str, ...], *, own_pathsend: bool
) -> tuple[Scope, dict[bytes, bytes]]:
    """A copy of the scope with our validator suffixes stripped, zerocopysend withdrawn and
    (``own_pathsend``) path send offered, and the suffixes stripped (``b'"abc"' -> b"br"``,
    to give a 304 its tag back).

    The suffix (``"abc:br"``) is our doing; the app only knows ``"abc"``. Zero-copy send hands
    the file to the server's socket, which would skip the encoder (ASGI zero-copy extension).
    """
    stripped: dict[bytes, bytes] = {}
    scope = dict(scope)
    scope["headers"] = [
        (n, strip_validator_suffixes(v, tokens, stripped) if n.lower() in _VALIDATORS else v)
        for n, v in scope["headers"]
    ]
    extensions = scope.get("extensions") or {}
    if ZEROCOPY in extensions or own_pathsend:
        extensions = {k: v for k, v in extensions.items() if k != ZEROCOPY}
        if own_pathsend:
            extensions[PATHSEND] = {}
        scope["extensions"] = extensions
    return scope, stripped
