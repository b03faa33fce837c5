"""CompressMiddleware: the configuration, and a fresh responder for each request.

Theory of operation
-------------------
The middleware object holds configuration only. For each HTTP request it negotiates the
coding from Accept-Encoding (twice at most: the one-shot and the streaming preference lists
may differ; both are memoized), strips our ETag suffixes from If-None-Match / If-Match so the
app's own conditional logic keeps working, and hands the app the ``send`` of a fresh
:class:`~asgi_compress._responder.Responder`, the per-response state machine.

The app (or a framework extension such as asgi_compress.quart) can steer its own response
through the :class:`ResponsePolicy` at ``scope["asgi_compress"]``: turn compression off,
swap in settings read live from its config, ask for conditional requests to be evaluated
against the encoded representation, or name a cache entry. The policy is read when
``http.response.start`` arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._headers import strip_validator_suffixes, with_vary
from ._responder import Responder
from .cache import DEFAULT_CACHE_MAX_SIZE, ResponseCache
from .negotiation import choose_encoding
from .policy import SCOPE_KEY, ResponsePolicy
from .settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from ._types import ASGIApp, Message, Receive, Scope, Send
    from .cache import CacheBackend
    from .settings import Options

__all__ = ["CompressMiddleware"]

_VALIDATORS = (b"if-none-match", b"if-match", b"if-modified-since")
_ZEROCOPY = "http.response.zerocopysend"


class CompressMiddleware:
    """Compress HTTP responses with zstd, br, gzip or deflate, as the client accepts.

    Args:
        app: the ASGI application to wrap.
        cache: where encoded whole bodies are kept and shared (a
            :class:`~asgi_compress.DictCache`, :class:`~asgi_compress.DirectoryCache`,
            :class:`~asgi_compress.RedisCache`, any ``get``/``set`` object, or a
            :class:`~asgi_compress.ResponseCache` built with more options); ``None``: none.
        cache_levels: coding -> level at which cached entries are made (``{"br": 11}``):
            a miss is answered at the normal level, then recompressed on a worker thread.
        cache_max_size: the largest declared Content-Length collected to be cached.
        **options: the Flask-Compress settings, lowercased without ``COMPRESS_``
            (``min_size``, ``br_level``, ``algorithm``...) plus ``thread_min_size``;
            see :class:`~asgi_compress.settings.Options` and the README's table.

    Raises:
        TypeError: an unknown option or a value of the wrong type.
        ValueError: an unknown algorithm or a value out of range.

    Attributes:
        cache: the :class:`~asgi_compress.ResponseCache` every request's policy starts with
            (an app may set ``policy.cache = None`` to keep one response out of it).

    Example:
        >>> from starlette.applications import Starlette
        >>> app = Starlette()
        >>> app.add_middleware(CompressMiddleware, br_level=5)  # Starlette / FastAPI
        >>> asgi_app = CompressMiddleware(app, min_size=1024)     # any ASGI app
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: CacheBackend | ResponseCache | None = None,
        cache_levels: Mapping[str, int] | None = None,
        cache_max_size: int = DEFAULT_CACHE_MAX_SIZE,
        **options: Unpack[Options],
    ) -> None:
        self.app = app
        self.settings = Settings.from_options(**options)
        self.cache = _response_cache(cache, cache_levels, cache_max_size)

    def new_policy(self, scope: Scope) -> ResponsePolicy:
        """The policy a request starts with; extensions override this to read live config."""
        policy = ResponsePolicy(self.settings)
        policy.cache = self.cache
        return policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        accept: list[bytes] = []
        validators: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if not name.islower():  # servers send lowercase names; anything else still counts
                name = name.lower()
            if name == b"accept-encoding":
                accept.append(value)
            elif name in _VALIDATORS:
                old = validators.get(name)
                validators[name] = value if old is None else old + b"," + value
        if not accept:  # the common case for bots and health checks: nothing to negotiate
            await self.app(scope, receive, _VaryOnly(send).send)
            return
        header = b",".join(accept).decode("latin-1")
        encoding = choose_encoding(header, settings.algorithm)
        stream_encoding = (
            encoding
            if settings.algorithm_streaming == settings.algorithm
            else choose_encoding(header, settings.algorithm_streaming)
        )
        if encoding is None and stream_encoding is None:
            await self.app(scope, receive, _VaryOnly(send).send)
            return
        stripped: dict[bytes, bytes] = {}
        if validators or _ZEROCOPY in scope.get("extensions", ()):
            tokens = tuple(sorted({t for t in (encoding, stream_encoding) if t is not None}))
            scope = _scope_for_app(scope, tokens, stripped)
        policy = scope[SCOPE_KEY] = self.new_policy(scope)
        responder = Responder(
            send, policy, scope, encoding, stream_encoding, validators=validators, stripped=stripped
        )
        await self.app(scope, receive, responder.send)


def _response_cache(
    cache: CacheBackend | ResponseCache | None,
    levels: Mapping[str, int] | None,
    max_size: int,
) -> ResponseCache | None:
    if isinstance(cache, ResponseCache):
        if levels is not None or max_size != DEFAULT_CACHE_MAX_SIZE:
            raise TypeError(
                "cache_levels and cache_max_size go to ResponseCache(...) when cache is one"
            )
        return cache
    if cache is None:
        if levels is not None:
            raise TypeError("cache_levels needs a cache: pass cache=DictCache() or another")
        return None
    return ResponseCache(cache, levels=levels, max_size=max_size)


def _scope_for_app(scope: Scope, tokens: tuple[str, ...], stripped: dict[bytes, bytes]) -> Scope:
    """A copy of the scope with our validator suffixes stripped and zerocopysend withdrawn.

    The suffix (``"abc:br"``) is our doing; the app only knows ``"abc"``. Zero-copy send hands
    the file to the server's socket, which would skip the encoder (ASGI zero-copy extension).
    """
    scope = dict(scope)
    scope["headers"] = [
        (n, strip_validator_suffixes(v, tokens, stripped) if n.lower() in _VALIDATORS else v)
        for n, v in scope["headers"]
    ]
    extensions = scope.get("extensions")
    if extensions and _ZEROCOPY in extensions:
        scope["extensions"] = {k: v for k, v in extensions.items() if k != _ZEROCOPY}
    return scope


class _VaryOnly:
    """The responder for a request that accepts no coding of ours: the response passes
    through, with ``Vary: Accept-Encoding`` merged in so caches keep variants apart."""

    __slots__ = ("_send", "_started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self._started:
                raise RuntimeError(
                    "unexpected ASGI message 'http.response.start' in response state PASSING"
                )
            self._started = True
            message = {**message, "headers": with_vary(message.get("headers", ()))}
        await self._send(message)
