"""The Flask-Compress-shaped Quart extension: same API, same ``COMPRESS_*`` settings.

A Flask app moving to Quart changes one import and keeps every setting::

    from quart import Quart
    from asgi_compress import Compress

    app = Quart(__name__)
    app.config["COMPRESS_BR_LEVEL"] = 5
    compress = Compress(app)         # or: compress = Compress(); compress.init_app(app)

How it works
------------
There is one implementation of the HTTP rules, the core middleware: ``init_app`` wraps
``app.asgi_app`` in a :class:`~asgi_compress.CompressMiddleware` whose per-request
:class:`~asgi_compress.ResponsePolicy` is built from the app's config (the live keys of
:data:`~asgi_compress.quart._config.LIVE_CONFIG_KEYS` re-read on each request, the others as they
were at ``init_app``). Compression therefore happens after Quart has finished the response:
after every ``after_request`` hook and after the session is saved, so the headers they add
(``Vary: Cookie``) are merged, and streams stay incremental.

Inside Quart, an ``after_request`` hook only *marks* the request's policy: views decorated
with :meth:`Compress.compressed` or :meth:`Compress.uncompressed`, :meth:`Compress.skip`,
conditional evaluation of streamed responses (``COMPRESS_STREAMING_ENDPOINT_CONDITIONAL``)
and the cache entry. When no hook runs (an unhandled exception), the policy keeps its
defaults from the config.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

try:
    from quart import Quart, g, request
    from quart.wrappers import Request, Response
    from quart.wrappers.response import DataBody
except ImportError as error:  # the one optional import: name the extra that brings it
    raise ImportError(
        "asgi_compress.Compress (the Quart extension) needs Quart: "
        "pip install 'asgi-compress[quart]'"
    ) from error

from .._validation import closest_name
from ..cache import CacheBackend, ResponseCache
from ..middleware import CompressMiddleware
from ..policy import SCOPE_KEY, SKIP_KEY, ResponsePolicy, skip_compression
from ..settings import Options, Settings, config_key, options_from_config
from ._config import LIVE_CONFIG_KEYS, ExtensionSettings, config_defaults

if TYPE_CHECKING:
    from quart.typing import ResponseTypes
    from typing_extensions import Unpack

    from .._types import ASGIApp, Scope

__all__ = ["CacheKey", "Compress"]

logger = logging.getLogger("asgi_compress")

F = TypeVar("F", bound=Callable[..., Any])

CacheKey = Callable[[Request], "str | Awaitable[str]"]
"""A cache key function: ``(request) -> str`` (a coroutine function is accepted too)."""

_VIEW_MARK = "_asgi_compress"  # True: compressed(), False: uncompressed()
_SKIPPED = "_asgi_compress_skipped"  # on quart.g: skip() was called during this request
_read_live = itemgetter(*LIVE_CONFIG_KEYS)


class Compress:
    """Compress a Quart app's responses with zstd, br, gzip or deflate (Flask-Compress's API).

    Args:
        app: the app to set up now; leave it out and call :meth:`init_app` later for the
            app-factory pattern.

    Attributes:
        app: the app given to the constructor, if any.
        cache: where compressed one-shot bodies are kept (anything with ``get``/``set``,
            sync or async, such as :class:`~asgi_compress.DictCache`, or a
            :class:`~asgi_compress.ResponseCache` for cache levels and a secret); ``None``:
            no cache. Set by ``COMPRESS_CACHE_BACKEND`` at ``init_app``, or assign it
            afterwards.
        cache_key: the function naming a request's cache entry (``COMPRESS_CACHE_KEY``).
            Required when ``cache`` is set. Unlike Flask-Compress, the name only chooses
            the slot: an entry is served only for the very body it was made from (its
            SHA-256 is checked), so a changed page never gets the old bytes. Entries are
            kept per coding and encoder parameters too.

    Example:
        >>> from quart import Quart
        >>> from asgi_compress import Compress, DictCache
        >>> app = Quart(__name__)
        >>> compress = Compress(app)
        >>> app.config["COMPRESS_LEVEL"]
        6
        >>> compress.cache = DictCache()
        >>> compress.cache_key = lambda request: request.url
    """

    def __init__(self, app: Quart | None = None) -> None:
        self.app = app
        self.cache: CacheBackend | ResponseCache | None = None
        self.cache_key: CacheKey | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Quart) -> None:
        """Write the ``COMPRESS_*`` defaults into ``app.config``, validate it, and wrap
        ``app.asgi_app`` in the compression middleware.

        Raises:
            TypeError: a setting of the wrong type (the message names the key).
            ValueError: an unknown algorithm or a value out of range (likewise).
            RuntimeError: the app already has a ``Compress``.
        """
        if "compress" in app.extensions:
            raise RuntimeError("Compress is already set up on this app")
        config = app.config
        # Streams use the same codings as everything else unless told otherwise: they are
        # flushed per chunk, so gzip suits them as well as the others.
        algorithm = config.get("COMPRESS_ALGORITHM")
        if algorithm is not None:
            config.setdefault(
                "COMPRESS_ALGORITHM_STREAMING",
                algorithm if isinstance(algorithm, str) else list(algorithm),
            )
        defaults = config_defaults()
        _warn_unknown_keys(config, defaults)
        for key, value in defaults.items():
            config.setdefault(key, value)
        settings = Settings.from_config(config)
        extension = ExtensionSettings.from_config(config)
        if extension.cache_backend is not None:
            cache = extension.cache_backend()
            if not isinstance(cache, CacheBackend):
                raise TypeError(
                    "COMPRESS_CACHE_BACKEND must return an object with get() and set(), "
                    f"got {cache!r}"
                )
            self.cache = cache
        if extension.cache_key is not None:
            self.cache_key = extension.cache_key
        # Quart types ASGI with hypercorn's TypedDicts, the core with plain mappings.
        middleware = _QuartCompressMiddleware(
            cast("ASGIApp", app.asgi_app),
            quart_app=app,
            compress=self,
            settings=settings,
            extension=extension,
            **options_from_config(config),
        )
        app.asgi_app = middleware  # type: ignore[method-assign,assignment]
        app.after_request(middleware.mark_response)
        app.extensions["compress"] = self

    def compressed(self) -> Callable[[F], F]:
        """Mark a view to be compressed, even with ``COMPRESS_REGISTER = False``.

        The view is returned unchanged (sync or async), so the decorator may go above or
        below ``@app.route``. The other settings still apply (types, sizes, codings).

        Example:
            >>> @app.route("/report")                      # doctest: +SKIP
            ... @compress.compressed()
            ... async def report():
            ...     return await render_template("report.html")
        """
        return _mark(True)

    def uncompressed(self) -> Callable[[F], F]:
        """Mark a view never to be compressed (``Vary: Accept-Encoding`` is still sent).

        Use it for responses that reflect user input next to secrets (BREACH), or that must
        reach the client byte for byte.

        Example:
            >>> @app.route("/token")                       # doctest: +SKIP
            ... @compress.uncompressed()
            ... async def token():
            ...     return {"csrf": generate_csrf()}
        """
        return _mark(False)

    def skip(self) -> None:
        """Leave the response to the current request uncompressed.

        Call it while the request is handled: in the view, or in a hook, before the
        response starts (a stream's generator runs after that, too late to opt out).

        Raises:
            RuntimeError: outside a request context.

        Example:
            >>> @app.route("/maybe")                       # doctest: +SKIP
            ... async def maybe():
            ...     if request.args.get("raw"):
            ...         compress.skip()
            ...     return page
        """
        setattr(g, _SKIPPED, True)  # so that a decorator mark does not undo it
        skip_compression(cast("Scope", request.scope))


def _warn_unknown_keys(config: Mapping[str, Any], known: Mapping[str, Any]) -> None:
    """A ``COMPRESS_*`` key we do not know is most likely a typo that silently does nothing
    (``COMPRESS_LEVLE``): say so, with the key it probably meant."""
    for key in config:
        if isinstance(key, str) and key.startswith("COMPRESS_") and key not in known:
            guess = closest_name(key, known)
            logger.warning(
                "asgi_compress: unknown config key %r is ignored%s",
                key,
                f"; did you mean {guess!r}?" if guess else "",
            )


def _mark(value: bool) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, _VIEW_MARK, value)
        return view

    return mark


class _QuartCompressMiddleware(CompressMiddleware):
    """The core middleware, with policies read from a Quart app's config.

    ``new_policy`` runs on every request, so it only compares the live values with the last
    ones it saw; the settings are rebuilt (and validated) only when one of them changed.
    """

    # Flask-Compress picks an event stream's coding by COMPRESS_ALGORITHM_STREAMING's order
    # alone (br before deflate for Safari's "gzip, deflate, br"): a migrating app keeps that.
    light_events = False

    def __init__(
        self,
        app: ASGIApp,
        *,
        quart_app: Quart,
        compress: Compress,
        settings: Settings,
        extension: ExtensionSettings,
        **options: Unpack[Options],
    ) -> None:
        # Flask-Compress caches nothing unless a backend and a key are set: no default cache
        # here. ``compress.cache`` (or COMPRESS_CACHE_BACKEND) is read per request instead.
        super().__init__(app, cache=None, **options)
        self.quart_app = quart_app
        self.compress = compress
        self.config: Mapping[str, Any] = quart_app.config
        self.register = extension.register
        self.streaming_endpoints = extension.streaming_endpoint_conditional
        # Every other key is read once, as validated and normalized at init_app: editing the
        # config's lists in place later changes nothing (Flask-Compress copies them too).
        self._snapshot: dict[str, Any] = {
            key: getattr(settings, option)
            for option in Options.__annotations__
            if (key := config_key(option)) not in LIVE_CONFIG_KEYS
        }
        self._live: tuple[Any, ...] = self._read_live()
        self._live_settings = settings
        self._response_cache: ResponseCache | None = None

    def new_policy(self, scope: Scope) -> ResponsePolicy:
        config = self.config
        policy = ResponsePolicy(self.live_settings(), enabled=self.register)
        policy.evaluate_conditional = bool(
            config.get("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", True)
        )
        return policy

    def live_settings(self) -> Settings:
        """The settings for the app's config as it is now.

        An invalid live change (``app.config["COMPRESS_LEVEL"] = 42``) must not fail requests:
        it is logged once, as an error naming the key, and the last valid settings stay in
        use until the config is valid again.
        """
        live = self._read_live()
        if live == self._live:
            return self._live_settings
        self._live = live  # good or bad, a value is judged (and logged) once
        try:
            self._live_settings = Settings.from_config(
                {**self._snapshot, **dict(zip(LIVE_CONFIG_KEYS, live, strict=True))}
            )
        except (TypeError, ValueError) as error:
            logger.error("invalid compression setting: %s; keeping the previous settings", error)
        return self._live_settings

    def _read_live(self) -> tuple[Any, ...]:
        try:
            return tuple(_read_live(self.config))
        except KeyError:  # a key deleted from the config: its default again
            defaults = config_defaults()
            return tuple(self.config.get(key, defaults[key]) for key in LIVE_CONFIG_KEYS)

    async def mark_response(self, response: ResponseTypes) -> ResponseTypes:
        """The ``after_request`` hook: set this request's marks on its policy."""
        compress = self.compress
        cache = compress.cache
        if cache is not None and compress.cache_key is None:
            raise RuntimeError(
                "compress.cache is set but compress.cache_key is None: give the cache a key "
                "function, e.g. compress.cache_key = lambda request: request.url "
                "(or set COMPRESS_CACHE_KEY before init_app)"
            )
        policy = request.scope.get(SCOPE_KEY)
        if not isinstance(policy, ResponsePolicy):
            return response  # the client accepts none of our codings
        endpoint = request.endpoint
        if getattr(g, _SKIPPED, False) or request.scope.get(SKIP_KEY):
            policy.enabled = False
        elif endpoint is not None:
            view = self.quart_app.view_functions.get(endpoint)
            mark = getattr(view, _VIEW_MARK, None)
            if mark is not None:
                policy.enabled = mark
        policy.evaluate_conditional_streams = endpoint in self.streaming_endpoints
        if (
            cache is not None
            and compress.cache_key is not None
            and policy.enabled
            and request.method != "HEAD"  # a HEAD is never encoded, so never cached
            and 200 <= response.status_code < 300
            # Only buffered bodies are cached, as in Flask-Compress: not files, not streams;
            # and the key function runs only for bodies that may be compressed.
            and isinstance(response, Response)
            and isinstance(response.response, DataBody)
            and len(response.response.data) >= policy.settings.min_size
            and policy.settings.is_compressible_type(response.mimetype or "")
        ):
            key = compress.cache_key(request)
            if inspect.isawaitable(key):
                key = await key
            policy.cache = self.response_cache(cache)
            policy.cache_key = key
        return response

    def response_cache(self, cache: CacheBackend | ResponseCache) -> ResponseCache:
        """The machinery for ``compress.cache`` (which the app may swap at any time)."""
        if isinstance(cache, ResponseCache):
            return cache
        current = self._response_cache
        if current is None or current.backend is not cache:
            current = self._response_cache = ResponseCache(cache)
        return current
