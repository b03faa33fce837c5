"""PROVISIONAL: one request's dictionary transport, as the old responder calls it.

This module and its call sites in middleware.py and _responder.py make up the commit
"dcz: provisional wiring in the old responder", to be ported to the new responder and then
dropped. The decisions themselves live in :mod:`asgi_compress.dictionaries`; this only holds
one request's inputs (its :class:`DictionaryRequest`, the dictionary the store found) and
carries the decisions out:

- :meth:`DictionaryPlan.send` sits between the app and the responder: at
  ``http.response.start`` it adds ``Use-As-Dictionary`` (when the response becomes a
  dictionary) and ``Link`` (on HTML pages); it collects the identity body of a dictionary,
  however many messages it comes in, and stores it when the body ends.
- :meth:`DictionaryPlan.choose`: called by the responder once the response is to be
  compressed: the dictionary for ``dcz``, or ``None``.

Limits of this wiring (the new responder should lift them): a file sent with
``http.response.pathsend`` is not stored as a dictionary; dcz is used whenever chosen,
without checking that it beats the ordinary coding; the ETag suffix is ``:dcz`` for every
dictionary; BREACH padding is not added to dcz bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._dcz import DczEncoder
from ._dictionary_store import Dictionary
from ._headers import ResponseHead
from ._types import ASGIApp, Headers, Message, Receive, Scope, Send
from .dictionaries import (
    DictionaryMark,
    DictionaryRequest,
    ResponseFacts,
    choose_dictionary,
    dcz_etag_token,
    is_dictionary_candidate,
)
from .dictionary_options import DictionarySettings, ProvidedDictionary

__all__ = ["DictionaryPlan", "serve_dictionary"]

AVAILABLE_DICTIONARY_VARY = (b"vary", b"available-dictionary")


@dataclass
class DictionaryPlan:
    """One request's dictionary inputs, and what was decided for its response."""

    settings: DictionarySettings
    request: DictionaryRequest
    found: Dictionary | None
    facts: ResponseFacts = field(default_factory=ResponseFacts)
    send_on: Send | None = None
    mark: DictionaryMark | None = None
    chosen: Dictionary | None = None
    _body: bytearray | None = None

    async def send(self, message: Message) -> None:
        """The app's ``send``: observe the identity response, then hand it to ``send_on``."""
        assert self.send_on is not None
        kind = message["type"]
        if kind == "http.response.start":
            headers = list(message.get("headers", ()))
            media_type = ResponseHead(headers).media_type
            headers = self._start_headers(message["status"], headers, media_type)
            message = {**message, "headers": headers}
            if self.mark is not None:
                self._body = bytearray()
        elif kind == "http.response.body" and self._body is not None:
            self._body += message.get("body", b"")
            if len(self._body) > self.settings.store.max_bytes:
                self._body = None  # too big to keep: stop collecting
            elif not message.get("more_body", False):
                body, self._body = bytes(self._body), None
                await self._keep(body)
        await self.send_on(message)

    def _start_headers(self, status: int, headers: Headers, media_type: str) -> Headers:
        """The response's headers with ``Use-As-Dictionary`` and ``Link`` added as needed."""
        self.facts = ResponseFacts.from_headers(headers)
        self.mark = is_dictionary_candidate(
            self.request, status, self.facts, self.settings.patterns,
            max_size=self.settings.store.max_bytes,
        )  # fmt: skip
        extra: Headers = []
        if self.mark is not None and self.mark.header is not None:
            extra.append(self.mark.header)
        link = self.settings.link_header()
        if link is not None and media_type == "text/html" and status == 200:
            extra.append(link)
        return [*headers, *extra] if extra else headers

    def choose(self) -> Dictionary | None:
        """The dictionary to answer with ``dcz`` (the response is to be compressed)."""
        self.chosen = choose_dictionary(self.request, self.facts, self.found)
        return self.chosen

    def cache_token(self) -> str:
        """The coding part of a response-cache key: a dcz body is only good for its dictionary."""
        assert self.chosen is not None
        return dcz_etag_token(self.chosen)

    def encoder(self) -> DczEncoder:
        chosen = self.chosen
        assert chosen is not None
        return DczEncoder(chosen.data, chosen.sha256, self.settings.level)

    async def _keep(self, body: bytes) -> None:
        """Store a whole identity body as a dictionary (the response was marked as one)."""
        mark = self.mark
        if mark is not None and body:
            await self.settings.store.add(body, match=mark.match, id=mark.id)


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
