"""ResponsePolicy: how one request's response may be compressed, open to the app.

The middleware puts a policy at ``scope["asgi_compress"]``; the app, or a framework extension
such as :mod:`asgi_compress.quart`, may change it until its response starts.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._types import Scope
    from .cache import ResponseCache
    from .settings import Settings

__all__ = ["SCOPE_KEY", "SKIP_KEY", "ResponsePolicy", "skip_compression"]

logger = logging.getLogger("asgi_compress")

SCOPE_KEY = "asgi_compress"
"""Where a request's :class:`ResponsePolicy` sits in the ASGI scope."""

SKIP_KEY = "asgi_compress.skip"
"""Set to ``True`` in the scope by :func:`skip_compression` called before the middleware has
seen the request (from an outer middleware); the middleware then disables the policy."""

_LATE_ROUTES_LIMIT = 256  # routes remembered for the "too late" warning; the oldest go first
_late_routes: OrderedDict[str, None] = OrderedDict()


class ResponsePolicy:
    """How one request's response may be compressed, open to the app until its response starts.

    The middleware puts one at ``scope["asgi_compress"]`` for every request that accepts one of
    our codings (a request that accepts none is never compressed and gets none).

    Attributes:
        settings: the settings for this response (levels, sizes, types, streams). Its
            algorithm lists must cover the middleware's, which negotiated the coding.
        enabled: ``False`` leaves the response uncompressed (Vary is still merged).
        evaluate_conditional: answer If-None-Match / If-Modified-Since with 304 and a failing
            If-Match with 412, against the encoded representation, for GET and HEAD.
        evaluate_conditional_streams: do that for streamed responses too.
        cache: the :class:`~asgi_compress.cache.ResponseCache` for this response's encoded
            body (whole bodies only), or ``None``.
        cache_key: a name for the entry chosen by the app (Flask-Compress's ``cache_key``);
            ``None`` addresses it by the body's digest. A named entry is still served only
            for the very body it was made from.
        started: set by the middleware when the response starts; changes after that are
            too late to count.
    """

    __slots__ = (
        "cache",
        "cache_key",
        "enabled",
        "evaluate_conditional",
        "evaluate_conditional_streams",
        "settings",
        "started",
    )

    def __init__(self, settings: Settings, *, enabled: bool = True) -> None:
        self.settings = settings
        self.enabled = enabled
        self.evaluate_conditional = False
        self.evaluate_conditional_streams = False
        self.cache: ResponseCache | None = None
        self.cache_key: str | None = None
        self.started = False


def skip_compression(scope: Scope) -> None:
    """Leave this request's response uncompressed (call it before the response starts).

    Use it for responses that reflect user input next to secrets (BREACH), or that must
    reach the client byte for byte. It works from the app, from a middleware inside
    ``CompressMiddleware``, and from one outside it (before the request reaches it: the
    scope is marked). A call after the response started changes nothing and logs a warning,
    once per route.

    Example:
        >>> async def endpoint(request):                       # doctest: +SKIP
        ...     skip_compression(request.scope)
        ...     return HTMLResponse(page_with_csrf_token)
    """
    scope[SKIP_KEY] = True
    policy = scope.get(SCOPE_KEY)
    if not isinstance(policy, ResponsePolicy):
        return
    if policy.started:
        _warn_too_late(scope)
    policy.enabled = False


def _warn_too_late(scope: Scope) -> None:
    route = getattr(scope.get("route"), "path", None) or scope.get("path", "?")
    if route in _late_routes:
        _late_routes.move_to_end(route)
        return
    _late_routes[route] = None
    if len(_late_routes) > _LATE_ROUTES_LIMIT:
        _late_routes.popitem(last=False)
    logger.warning(
        "asgi_compress: skip_compression() called after the response to %s started; it "
        "has no effect on that response. Call it before the response starts (before a "
        "streaming response's generator runs).",
        route,
    )
