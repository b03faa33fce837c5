"""One request's dictionary transport (RFC 9842), as the responder consults it.

The decisions live in :mod:`asgi_compress.dictionaries.transport` (pure); the middleware builds a
:class:`DictionaryLayer` for a request that may be encoded when dictionaries are configured,
after looking the client's ``Available-Dictionary`` up in the store once. The layer then

- is called by the responder: at ``http.response.start`` (:meth:`DictionaryLayer.start`,
  before the start is decided) it adds ``Use-As-Dictionary`` (when the response becomes a
  dictionary) and ``Link: rel="compression-dictionary"`` (on HTML pages); after each later
  message went out (:meth:`DictionaryLayer.observe`) it collects the identity body of a
  dictionary, however many messages it comes in, or reads the file of an
  ``http.response.pathsend`` on a worker thread, and stores it once the response went out;
- answers the responder's one question, once the responder has decided to encode
  (:meth:`DictionaryLayer.choose`): the :class:`DczChoice` to answer ``dcz`` with, or ``None``;
- remembers which coding a GET's whole body went out in (dcz or the ordinary coding, the
  smaller), per strong ETag, so that a HEAD without a body can say the same
  (:class:`DczOutcomes`).

:func:`serve_dictionary` is the app that answers at a provided dictionary's ``url_path``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..codecs._dcz import DczEncoder
from ..codecs._offload import offload
from ..http._headers import ResponseHead
from .transport import (
    DictionaryMark,
    DictionaryRequest,
    ResponseFacts,
    choose_dictionary,
    dcz_etag_token,
    is_dictionary_candidate,
)

if TYPE_CHECKING:
    from .._types import ASGIApp, Headers, Message, Receive, Scope, Send
    from ._store import Dictionary
    from .options import DictionarySettings, ProvidedDictionary

__all__ = [
    "AVAILABLE_DICTIONARY_VARY",
    "DczChoice",
    "DczOutcomes",
    "DictionaryLayer",
    "serve_dictionary",
]

AVAILABLE_DICTIONARY_VARY = (b"vary", b"available-dictionary")
"""Added to every dcz answer, next to Vary: Accept-Encoding (RFC 9842 section 6.2)."""


class DczChoice(NamedTuple):
    """The dictionary a response is compressed with, and at which zstd level."""

    dictionary: Dictionary
    level: int

    @property
    def token(self) -> str:
        """The ETag suffix (``dcz-<hex>``): one representation per dictionary."""
        return dcz_etag_token(self.dictionary)

    @property
    def cache_params(self) -> str:
        """What names the encoded bytes in a response-cache address, besides the coding."""
        return f"{self.token};level={self.level}"

    def new_encoder(self) -> DczEncoder:
        return DczEncoder(self.dictionary.data, self.dictionary.sha256, self.level)


_OutcomeKey = tuple[str, bytes, bytes, str]


class DczOutcomes:
    """The coding GET answers went out in, by (path, strong ETag, dictionary, ordinary
    coding); ``""`` for unencoded. Bounded: the oldest entry goes first.

    A strong ETag names the identity bytes (RFC 9110 section 8.8.3), and the choice between
    dcz and the ordinary coding is a function of those bytes, so a HEAD of the same tag
    gets the same answer without its body.
    """

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: dict[_OutcomeKey, str] = {}
        self._max_entries = max_entries

    def get(self, key: _OutcomeKey) -> str | None:
        return self._entries.get(key)

    def put(self, key: _OutcomeKey, coding: str) -> None:
        entries = self._entries
        entries.pop(key, None)
        entries[key] = coding
        if len(entries) > self._max_entries:
            entries.pop(next(iter(entries)), None)


class DictionaryLayer:
    """One request's dictionary inputs, and what was decided for its response.

    Args:
        settings: the middleware's dictionary settings.
        request: the request's view (:meth:`DictionaryRequest.from_scope`).
        found: the dictionary the store holds under the client's hash, looked up once.
    """

    __slots__ = ("_body", "_facts", "_found", "_mark", "_request", "_settings")

    def __init__(
        self, settings: DictionarySettings, request: DictionaryRequest, found: Dictionary | None
    ) -> None:
        self._settings = settings
        self._request = request
        self._found = found
        self._facts = ResponseFacts()
        self._mark: DictionaryMark | None = None
        self._body: bytearray | None = None

    def start(self, message: Message) -> Message:
        """The app's ``http.response.start`` with this layer's headers added; the responder
        calls it before deciding the response."""
        headers = self._start_headers(message["status"], list(message.get("headers", ())))
        if self._mark is not None:
            self._body = bytearray()
        return {**message, "headers": headers}

    @property
    def observing(self) -> bool:
        """Whether :meth:`observe` wants the response's later messages (a dictionary's
        identity body is being collected)."""
        return self._body is not None

    async def observe(self, message: Message) -> None:
        """See a message of the app's response after the responder handled it: collect a
        dictionary's identity body (or read its path send's file on a worker thread), and
        store it once it is whole."""
        if self._body is None:
            return
        kind = message["type"]
        if kind == "http.response.body":
            self._body += message.get("body", b"")
            if len(self._body) > self._settings.store.max_bytes:
                self._body = None  # too big to keep: stop collecting
            elif not message.get("more_body", False):
                body, self._body = bytes(self._body), None
                await self._keep(body)
        elif kind == "http.response.pathsend":
            self._body = None
            limit = self._settings.store.max_bytes
            body = await offload(_read_at_most, (message["path"], limit + 1))
            if len(body) <= limit:
                await self._keep(body)

    def choose(self) -> DczChoice | None:
        """The dictionary to answer ``dcz`` with; asked once the response is to be encoded."""
        chosen = choose_dictionary(self._request, self._facts, self._found)
        return None if chosen is None else DczChoice(chosen, self._settings.level)

    def remember(self, etag: bytes | None, ordinary: str, coding: str) -> None:
        """A GET's whole body went out in ``coding`` (``""``: unencoded), ``ordinary`` being
        the coding dcz was weighed against."""
        key = self._outcome_key(etag, ordinary)
        if key is not None:
            self._settings.outcomes.put(key, coding)

    def recall(self, etag: bytes | None, ordinary: str) -> str | None:
        """What :meth:`remember` kept for this representation, or ``None``."""
        key = self._outcome_key(etag, ordinary)
        return None if key is None else self._settings.outcomes.get(key)

    def _outcome_key(self, etag: bytes | None, ordinary: str) -> _OutcomeKey | None:
        found = self._found
        if etag is None or not etag.startswith(b'"') or found is None:
            return None  # a weak tag names equivalent bytes, not the same ones
        return (self._request.path, etag, found.sha256, ordinary)

    def _start_headers(self, status: int, headers: Headers) -> Headers:
        """The response's headers with ``Use-As-Dictionary`` and ``Link`` added as needed."""
        settings = self._settings
        self._facts = ResponseFacts.from_headers(headers)
        self._mark = is_dictionary_candidate(
            self._request, status, self._facts, settings.patterns,
            max_size=settings.store.max_bytes,
        )  # fmt: skip
        extra: Headers = []
        if self._mark is not None and self._mark.header is not None:
            extra.append(self._mark.header)
        link = settings.link_header()
        if link is not None and status == 200 and ResponseHead(headers).media_type == "text/html":
            extra.append(link)
        return [*headers, *extra] if extra else headers

    async def _keep(self, body: bytes) -> None:
        """Store a whole identity body as a dictionary (the response was marked as one)."""
        mark = self._mark
        if mark is not None and body:
            await self._settings.store.add(body, match=mark.match, id=mark.id)


def _read_at_most(job: tuple[str, int]) -> bytes:
    path, size = job
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except OSError:
        return b""  # the responder reports the failure; no dictionary is kept


def serve_dictionary(provided: ProvidedDictionary) -> ASGIApp:
    """An ASGI app answering with a provided dictionary (GET and HEAD)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": provided.response_headers(),
        }
        await send(start)
        body = b"" if scope.get("method") == "HEAD" else provided.data
        await send({"type": "http.response.body", "body": body})

    return app
