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

from typing import TYPE_CHECKING, Any

from ._dictionary_plan import DictionaryPlan, serve_dictionary
from ._headers import strip_validator_suffixes, with_vary
from ._responder import Responder
from .dictionaries import DictionaryRequest
from .dictionary_options import DictionarySettings
from .negotiation import choose_encoding
from .policy import SCOPE_KEY, ResponsePolicy
from .settings import Settings

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._types import ASGIApp, Message, Receive, Scope, Send
    from .settings import Options

__all__ = ["CompressMiddleware"]

_DICTIONARY_OPTIONS = (
    "dictionary_paths",
    "dictionaries",
    "dcz_level",
    "dictionary_max_count",
    "dictionary_max_bytes",
    "dictionary_cache",
)
_VALIDATORS = (b"if-none-match", b"if-match", b"if-modified-since")
_ZEROCOPY = "http.response.zerocopysend"


class CompressMiddleware:
    """Compress HTTP responses with zstd, br, gzip or deflate, as the client accepts.

    Args:
        app: the ASGI application to wrap.
        **options: the Flask-Compress settings, lowercased without ``COMPRESS_``
            (``min_size``, ``br_level``, ``algorithm``...) plus ``thread_min_size``;
            see :class:`~asgi_compress.settings.Options` and the README's table.

    Raises:
        TypeError: an unknown option or a value of the wrong type.
        ValueError: an unknown algorithm or a value out of range.

    Example:
        >>> from starlette.applications import Starlette
        >>> app = Starlette()
        >>> app.add_middleware(CompressMiddleware, br_level=5)  # Starlette / FastAPI
        >>> asgi_app = CompressMiddleware(app, min_size=1024)     # any ASGI app
    """

    def __init__(self, app: ASGIApp, **options: Unpack[Options]) -> None:
        self.app = app
        # PROVISIONAL (dcz wiring): the dictionary options are taken out here until
        # settings.py knows them.
        raw: dict[str, Any] = dict(options)
        dictionary_options = {k: raw.pop(k) for k in _DICTIONARY_OPTIONS if k in raw}
        self.settings = Settings.from_options(**raw)
        dictionaries = DictionarySettings.from_options(**dictionary_options)
        self.dictionaries = dictionaries if dictionaries.enabled else None

    def new_policy(self, scope: Scope) -> ResponsePolicy:
        """The policy a request starts with; extensions override this to read live config."""
        return ResponsePolicy(self.settings)

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
        app = self.app
        if self.dictionaries is not None:  # PROVISIONAL (dcz wiring): a dictionary of ours
            provided = self.dictionaries.served_at(scope["path"])
            if provided is not None and scope.get("method") in ("GET", "HEAD"):
                app = serve_dictionary(provided)
        if not accept:  # the common case for bots and health checks: nothing to negotiate
            await app(scope, receive, _VaryOnly(send).send)
            return
        header = b",".join(accept).decode("latin-1")
        encoding = choose_encoding(header, settings.algorithm)
        stream_encoding = (
            encoding
            if settings.algorithm_streaming == settings.algorithm
            else choose_encoding(header, settings.algorithm_streaming)
        )
        if encoding is None and stream_encoding is None:
            await app(scope, receive, _VaryOnly(send).send)
            return
        stripped: dict[bytes, bytes] = {}
        if validators or _ZEROCOPY in scope.get("extensions", ()):
            tokens = tuple(sorted({t for t in (encoding, stream_encoding) if t is not None}))
            scope = _scope_for_app(scope, tokens, stripped)
        policy = scope[SCOPE_KEY] = self.new_policy(scope)
        plan = None
        if self.dictionaries is not None and app is self.app:  # PROVISIONAL (dcz wiring)
            request = DictionaryRequest.from_scope(scope)
            found = None
            if request.accepts_dcz:
                found = await self.dictionaries.lookup(request.available)
            plan = DictionaryPlan(self.dictionaries, request, found)
        responder = Responder(
            send,
            policy,
            scope,
            encoding,
            stream_encoding,
            validators=validators,
            stripped=stripped,
            dictionary_plan=plan,
        )
        if plan is not None:  # PROVISIONAL (dcz wiring): the plan sees the identity response
            plan.send_on = responder.send
            await app(scope, receive, plan.send)
            return
        await app(scope, receive, responder.send)


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
