"""CompressMiddleware: the configuration, and a fresh responder for each request.

Theory of operation
-------------------
The middleware object holds configuration only. For each HTTP request it first reads the
headers once (the ASGI spec allows any iterable; the app gets a list), and lets a request
whose path (from the server's root) matches ``exclude_paths`` through untouched. Then it
reads the request's head (:mod:`asgi_compress._request_head`: its Accept-Encoding and
validators, in one pass), looks up what that Accept-Encoding value lets us send (negotiated
once per distinct value, for whole bodies, streams and event streams), strips our ETag
suffixes from If-None-Match / If-Match so the app's own conditional logic keeps working, and
hands the app the ``send`` of a fresh :class:`~asgi_compress.response._responder.Responder`,
the per-response state machine.

The app (or a framework extension such as asgi_compress.quart) can steer its own response
through the :class:`ResponsePolicy` at ``scope["asgi_compress"]``: turn compression off,
swap in settings read live from its config, ask for conditional requests to be evaluated
against the encoded representation, or name a cache entry. The policy is read when
``http.response.start`` arrives. A :func:`~asgi_compress.skip_compression` call made before
the request reached us (from an outer middleware) leaves a mark in the scope, which turns
the new policy off.

With dictionary options (RFC 9842, :mod:`asgi_compress.dictionaries.options`), a request for a
provided dictionary's ``url_path`` is answered by us; any other request that may be encoded
has the dictionary the client announces looked up once before the app runs, and the responder
consults that request's :class:`~asgi_compress.dictionaries._layer.DictionaryLayer` as the
response goes out. Without them, the request path costs one attribute check.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Literal

from ._request_head import (
    EXCLUDED,
    NO_OFFER,
    PATHSEND,
    SAFE,
    ZEROCOPY,
    Offer,
    make_offer,
    offer_pathsend,
    prepare_for_app,
    read_request_head,
)
from .cache import DEFAULT_CACHE_LEVELS, DEFAULT_CACHE_MAX_SIZE, DictCache, ResponseCache
from .dictionaries._layer import serve_dictionary
from .dictionaries.options import (
    DEFAULT_DCZ_LEVEL,
    DEFAULT_DICTIONARY_MAX_BYTES,
    DEFAULT_DICTIONARY_MAX_COUNT,
    DictionarySettings,
    ProvidedDictionary,
)
from .http._memo import Memo
from .http._paths import request_path
from .http.negotiation import choose_encoding, demote
from .policy import SCOPE_KEY, SKIP_KEY, ResponsePolicy
from .requests._body import has_content_encoding, serve_decoded_request
from .response._responder import Responder
from .settings import HEAVY_EVENT_CODINGS, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from typing_extensions import Unpack

    from ._types import ASGIApp, Receive, Scope, Send
    from .cache import CacheBackend
    from .settings import Options

__all__ = ["CompressMiddleware"]

logger = logging.getLogger("asgi_compress")


class _Default(enum.Enum):
    CACHE = "a DictCache() of its own"  # a fresh one per middleware, never shared


_PROMOTE_AFTER = 2  # a body seen once is never recompressed at its cache level

_NEGOTIATED_MAX = 256  # distinct Accept-Encoding values remembered per middleware


class CompressMiddleware:
    """Compress HTTP responses with zstd, br, gzip or deflate, as the client accepts.

    Args:
        app: the ASGI application to wrap.
        cache: where encoded whole bodies are kept and shared (a
            :class:`~asgi_compress.DictCache`, :class:`~asgi_compress.DirectoryCache`,
            :class:`~asgi_compress.RedisCache`, any ``get``/``set`` object, or a
            :class:`~asgi_compress.ResponseCache` built with more options). Default: a
            ``DictCache()`` of its own (32 MiB, per worker process); ``None``: no cache.
        cache_levels: coding -> level at which cached entries are made (default
            :data:`~asgi_compress.cache.DEFAULT_CACHE_LEVELS`: br 11, zstd 19, gzip 9;
            ``{}``: entries hold the bytes sent). Responses always go out at the normal
            level; a body missed a second time is then recompressed once, on a worker
            thread, and served from the cache from then on. A body seen once never is.
        cache_max_size: the largest declared Content-Length collected to be cached.
        dictionary_paths: RFC 9842 ``match`` patterns whose responses become dictionaries
            (``"/static/app.*.js"``); see docs/guides/dictionaries.md.
        dictionaries: :class:`~asgi_compress.dictionaries.options.ProvidedDictionary` objects,
            served at their ``url_path`` and announced on HTML pages.
        dcz_level: the zstd level of ``dcz`` answers, 1..22.
        dictionary_max_count: most dictionaries taken from responses kept in memory.
        dictionary_max_bytes: most bytes of them kept in memory (and the largest one).
        dictionary_cache: a shared backend (``get``/``set``) to keep dictionaries in, so
            every worker can use one any worker served; default: ``cache``'s backend when
            ``cache`` is given, else memory only (not the default cache: the dictionary
            store keeps its own in memory already).
        **options: the Flask-Compress settings, lowercased without ``COMPRESS_``
            (``min_size``, ``br_level``, ``algorithm``...), plus ``exclude_mimetypes``,
            ``exclude_paths``, ``success_only``, ``thread_min_size``, ``breach_padding`` and
            ``on_response``; see :class:`~asgi_compress.settings.Settings` and
            docs/reference/options.md. The defaults compress every text format
            (``DEFAULT_MIMETYPES``) at any status with content.

    Raises:
        TypeError: an unknown option or a value of the wrong type.
        ValueError: an unknown algorithm or a value out of range.

    Either error is also logged at ERROR on the ``asgi_compress`` logger, naming the option:
    Starlette builds its middleware at the first ASGI call (the lifespan), where a server
    may swallow the exception ("ASGI 'lifespan' protocol appears unsupported").

    Attributes:
        cache: the :class:`~asgi_compress.ResponseCache` every request's policy starts with
            (an app may set ``policy.cache = None`` to keep one response out of it).
        dictionaries: the validated dictionary settings, ``None`` when none are configured.

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
        cache: CacheBackend | ResponseCache | None | Literal[_Default.CACHE] = _Default.CACHE,
        cache_levels: Mapping[str, int] | None = None,
        cache_max_size: int = DEFAULT_CACHE_MAX_SIZE,
        dictionary_paths: str | Iterable[str] = (),
        dictionaries: Iterable[ProvidedDictionary] = (),
        dcz_level: int = DEFAULT_DCZ_LEVEL,
        dictionary_max_count: int = DEFAULT_DICTIONARY_MAX_COUNT,
        dictionary_max_bytes: int = DEFAULT_DICTIONARY_MAX_BYTES,
        dictionary_cache: CacheBackend | None = None,
        **options: Unpack[Options],
    ) -> None:
        self.app = app
        try:
            self.settings = Settings.from_options(**options)
            self.cache = _response_cache(cache, cache_levels, cache_max_size)
            if dictionary_cache is None and self.cache is not None and cache is not _Default.CACHE:
                # Issue 12: dictionaries live in the shared cache when one is configured.
                dictionary_cache = self.cache.backend
            dictionary_settings = DictionarySettings.from_options(
                dictionary_paths=dictionary_paths,
                dictionaries=dictionaries,
                dcz_level=dcz_level,
                dictionary_max_count=dictionary_max_count,
                dictionary_max_bytes=dictionary_max_bytes,
                dictionary_cache=dictionary_cache,
            )
        except (TypeError, ValueError) as error:
            logger.error("asgi_compress: invalid CompressMiddleware option: %s", error)
            raise
        self.dictionaries = dictionary_settings if dictionary_settings.enabled else None
        self._negotiated: Memo[bytes, Offer] = Memo(_NEGOTIATED_MAX)
        streaming = self.settings.algorithm_streaming
        self._event_order = (
            demote(streaming, HEAVY_EVENT_CODINGS) if self.light_events else streaming
        )

    def new_policy(self, scope: Scope) -> ResponsePolicy:
        """The policy a request starts with; extensions override this to read live config."""
        policy = ResponsePolicy(self.settings)
        policy.cache = self.cache
        return policy

    light_events: ClassVar[bool] = True
    """Event streams prefer, among the codings the client ranks equally, one that holds little
    per open stream (:data:`~asgi_compress.codecs.encoders.HEAVY_EVENT_CODINGS` last)."""

    def _negotiate(self, accept: bytes) -> Offer:
        """What the request's Accept-Encoding (its lines joined with ``,``) lets us send.

        Remembered per header value (clients send a handful; bounded): on the hot path of
        every request, one dict lookup.
        """
        settings = self.settings
        header = accept.decode("latin-1")
        encoding = choose_encoding(header, settings.algorithm)
        stream_encoding = (
            encoding
            if settings.algorithm_streaming == settings.algorithm
            else choose_encoding(header, settings.algorithm_streaming)
        )
        events = self._event_order
        event_encoding = (
            stream_encoding
            if events == settings.algorithm_streaming
            else choose_encoding(header, events)
        )
        return self._negotiated.keep(accept, make_offer(encoding, stream_encoding, event_encoding))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        headers = scope["headers"]
        if not isinstance(headers, (list, tuple)):
            # ASGI: any iterable; a generator read here would leave the app none.
            headers = scope["headers"] = list(headers)
        if settings.decompress_requests and has_content_encoding(headers):
            # The body is decoded for the app whatever the client accepts; the response is
            # handled by the nested call, whose scope no longer carries Content-Encoding.
            await serve_decoded_request(self, scope, receive, send, settings)
            return
        app = self.app
        # A scope without a method (a server or test client that leaves it out) is a GET.
        method = scope.get("method", "GET")
        dictionaries = self.dictionaries
        if dictionaries is not None:
            provided = dictionaries.served_at(scope["path"])
            if provided is not None and method in SAFE:
                # One of ours: answered here, negotiated and encoded like any response.
                app, dictionaries = serve_dictionary(provided), None
        if settings.exclude_paths and settings.is_excluded_path(request_path(scope)):
            await self._serve_excluded(app, scope, receive, send)
            return
        accept, validators = read_request_head(headers)
        offer = (self._negotiated.get(accept) or self._negotiate(accept)) if accept else NO_OFFER
        request, head_request, tokens = offer
        if method == "HEAD":
            request = head_request
        policy = layer = None
        own_pathsend = False
        if tokens:
            # Whatever the app sees differently from the server's scope goes in one copy.
            extensions = scope.get("extensions")
            zerocopy = extensions is not None and ZEROCOPY in extensions
            own_pathsend = settings.precompressed and (
                extensions is None or PATHSEND not in extensions
            )
            if dictionaries is not None or validators or zerocopy:
                scope, request, layer = await prepare_for_app(
                    scope, request, tokens, validators, dictionaries, own_pathsend
                )
            elif own_pathsend:  # never where exclude_paths passes the request through
                scope = offer_pathsend(scope, extensions)
            policy = scope[SCOPE_KEY] = self.new_policy(scope)
            if scope.get(SKIP_KEY):  # skip_compression() from a middleware that ran before us
                policy.enabled = False
        responder = Responder(
            send, receive, request, settings, policy, scope,
            dictionaries=layer, own_pathsend=own_pathsend,
        )  # fmt: skip
        try:
            await app(scope, responder.receive, responder.send)
        finally:
            responder.close()

    async def _serve_excluded(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Never compressed, whoever asks: one representation, so no Vary either. Seen by
        the responder only to be reported."""
        settings = self.settings
        if settings.on_response is None and not logger.isEnabledFor(logging.DEBUG):
            await app(scope, receive, send)
            return
        responder = Responder(send, receive, EXCLUDED, settings, None, scope)
        try:
            await app(scope, responder.receive, responder.send)
        finally:
            responder.close()


def _response_cache(
    cache: CacheBackend | ResponseCache | None | Literal[_Default.CACHE],
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
            raise TypeError(
                "cache_levels needs a cache, and cache=None turns it off: leave cache out "
                "(a DictCache of its own) or pass one"
            )
        return None
    backend = DictCache() if cache is _Default.CACHE else cache
    return ResponseCache(
        backend,
        levels=DEFAULT_CACHE_LEVELS if levels is None else levels,
        max_size=max_size,
        promote_after=_PROMOTE_AFTER,
    )
