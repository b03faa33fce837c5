"""How one response is encoded, once the responder has decided to encode it.

:class:`Codings` answers the responder's questions about the representation it sends: which
encoder (a dcz one for a dictionary the client holds), which codec runner, which ETag (the
one rule for its suffix and its weakness), the encoded head, the head of a 304/412 (ours when
the request's preconditions answer first, or the app's own 304), and a whole body's bytes
(from the response cache or encoded here; for dcz, the smaller of dcz and the ordinary
coding). It sends nothing: the responder (``_responder.py``) carries every message out.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, NamedTuple

from ..codecs._offload import CodecRunner, ns_per_byte
from ..codecs._padding import padding
from ..dictionaries._layer import AVAILABLE_DICTIONARY_VARY
from ..dictionaries.transport import DCZ
from ..http._headers import (
    ResponseHead,
    compressed_headers,
    held_token,
    precondition_status,
    suffix_etag,
    validator_answer_headers,
)

if TYPE_CHECKING:
    from .._types import Headers
    from ..cache import CacheLookup, ResponseCache
    from ..codecs.encoders import Encoder
    from ..dictionaries._layer import DczChoice, DictionaryLayer
    from ..policy import ResponsePolicy
    from ..settings import Settings
    from ._decide import RequestView

__all__ = ["Codings", "Encoded"]

_DCZ_TOKEN = DCZ.encode() + b"-"  # how a dcz ETag suffix starts: dcz-<hex>


def _unmatchable_for_the_app(head: ResponseHead, request: RequestView) -> bool:
    """Whether the app's ETag is unquoted (``abc``: BlackSheep's) and the client sent our
    suffixed form of it (``"abc:br"``). We handed the app ``"abc"``, which an app comparing
    bytes never matches with its ``abc``: its answer to the validator is ours to give, or
    every revalidation of an encoded response would be a full download."""
    etag = head.etag
    return (
        etag is not None
        and etag.strip()[:1] != b'"'
        and held_token(etag, request.stripped) is not None
    )


class Encoded(NamedTuple):
    """A whole body in one coding: ``encoded`` is ``None`` when that did not make it
    smaller; ``found`` is the response cache's answer, if it was asked; ``padded``: the
    random bytes of BREACH padding in ``encoded``."""

    coding: str
    encoded: bytes | None
    found: CacheLookup | None
    padded: int = 0

    @property
    def size(self) -> int | None:
        """The encoded length without its random padding: dcz and the ordinary coding are
        weighed on it, so which of them goes out does not depend on a random draw."""
        return None if self.encoded is None else len(self.encoded) - self.padded


class Codings:
    """The encoding side of one response (see the module docstring).

    Args:
        settings: the response's settings.
        policy: the request's policy (its cache, its conditional evaluation), if any.
        timed: measure codec time (for the ``on_response`` report).
        events: the response is an event stream: its encoders hold a small window and small
            tables, as it may sit open and idle for as long as its client listens.
    """

    __slots__ = (
        "_dcz",
        "_events",
        "_layer",
        "_ordinary",
        "_policy",
        "_runner",
        "_settings",
        "_timed",
    )

    def __init__(
        self,
        settings: Settings,
        policy: ResponsePolicy | None,
        *,
        timed: bool,
        events: bool = False,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._timed = timed
        self._events = events
        self._dcz: DczChoice | None = None
        self._layer: DictionaryLayer | None = None
        self._ordinary: str | None = None
        self._runner: CodecRunner | None = None

    @property
    def runner(self) -> CodecRunner | None:
        """The runner of the response's codec steps, once one ran."""
        return self._runner

    @property
    def cache(self) -> ResponseCache | None:
        return self._policy.cache if self._policy is not None else None

    def choose_dcz(self, layer: DictionaryLayer, request: RequestView) -> RequestView:
        """The request's codings become ``dcz`` when the dictionary layer chooses a
        dictionary the client holds (RFC 9842 section 5); else ``request`` unchanged."""
        choice = layer.choose()
        if choice is None:
            return request
        self._dcz = choice
        self._layer = layer
        self._ordinary = request.encoding  # what a whole body's dcz must beat
        return request._replace(
            encoding=None if request.encoding is None else DCZ,
            stream_encoding=None if request.stream_encoding is None else DCZ,
        )

    def remember_outcome(self, head: ResponseHead, coding: str | None) -> None:
        """A GET's whole body, weighed as dcz against the ordinary coding, went out in
        ``coding`` (``None``: unencoded); kept for HEADs of the same strong ETag."""
        if self._layer is not None and self._ordinary is not None:
            self._layer.remember(head.etag, self._ordinary, coding or "")

    def recalled_outcome(self, head: ResponseHead) -> str | None:
        """What :meth:`remember_outcome` kept for this representation (``""``: unencoded),
        or ``None`` when no GET of it was answered here."""
        if self._layer is None or self._ordinary is None:
            return None
        return self._layer.recall(head.etag, self._ordinary)

    def new_encoder(self, coding: str) -> tuple[Encoder, bytes]:
        """A fresh encoder, and the bytes to send before its first output: its BREACH padding
        when ``breach_padding`` is set (a random length, fresh for every response)."""
        encoder, prefix, _ = self._new_padded_encoder(coding)
        return encoder, prefix

    def _new_padded_encoder(self, coding: str) -> tuple[Encoder, bytes, int]:
        """:meth:`new_encoder`, and how many random bytes of padding its prefix holds."""
        dcz = self._dcz
        encoder: Encoder
        if dcz is not None and coding == DCZ:
            # Padded like every coding (BREACH): its padding follows the dcz header, which must open
            # the body (RFC 9842 section 5).
            encoder = dcz.new_encoder()
        else:
            encoder = self._settings.encoders[coding](events=self._events)
        limit = self._settings.breach_padding
        if not limit:
            return encoder, b"", 0
        extra = secrets.randbelow(limit + 1)
        return encoder, padding(encoder, extra), extra

    def runner_for(self, coding: str) -> CodecRunner:
        """The runner of this response's codec steps, costed for ``coding``."""
        runner = self._runner
        if runner is None:
            settings = self._settings
            dcz = self._dcz
            level = dcz.level if dcz is not None and coding == DCZ else settings.level_for(coding)
            runner = self._runner = CodecRunner(
                ns_per_byte(coding, level), settings.thread_min_size, timed=self._timed
            )
        return runner

    def etag_token(self, coding: str) -> bytes:
        """The ETag suffix of ``coding``: the coding, or for dcz its dictionary's token."""
        dcz = self._dcz
        return (dcz.token if dcz is not None and coding == DCZ else coding).encode("latin-1")

    def weak_etags(self, coding: str) -> bool:
        """Whether the encoded bytes may differ between responses with the same ETag, which
        a strong validator would deny (RFC 9110 section 8.8.1): BREACH padding is random,
        and with a cache level one body goes out at two levels (a miss, then the hits).

        The one rule for every ETag we send: a 200's, our 304's and the app's 304's."""
        if self._settings.breach_padding:
            return True
        cache = self.cache
        return cache is not None and coding in cache.levels

    def encoded_etag(self, etag: bytes, coding: str, token: bytes | None = None) -> bytes:
        """The ETag of the representation encoded with ``coding``, made from the app's
        (``token``: the suffix, when not :meth:`etag_token`'s)."""
        if token is None:
            token = self.etag_token(coding)
        return suffix_etag(etag, token, weak=self.weak_etags(coding))

    def encoded_headers(
        self, headers: Headers, head: ResponseHead, coding: str, *, content_length: int | None
    ) -> Headers:
        """The head of the response encoded with ``coding``."""
        result = compressed_headers(
            headers,
            coding,
            content_length=content_length,
            needs_vary=head.needs_vary,
            etag=None if head.etag is None else self.encoded_etag(head.etag, coding),
        )
        if coding == DCZ:
            result.append(AVAILABLE_DICTIONARY_VARY)  # RFC 9842 section 6.2
        return result

    def precondition_answer(
        self,
        request: RequestView,
        head: ResponseHead,
        headers: Headers,
        coding: str,
        *,
        stream: bool,
    ) -> tuple[int, Headers] | None:
        """Our bodiless 304/412 instead of the response encoded with ``coding``, when the
        policy asks for conditional evaluation (or the app could not match the validator we
        handed it: see :func:`_unmatchable_for_the_app`) and the GET/HEAD's validators say
        so; the head of that answer, or ``None`` to send the response."""
        policy = self._policy
        validators = request.validators
        if policy is None or not validators:
            return None
        if not (
            policy.evaluate_conditional and (policy.evaluate_conditional_streams or not stream)
        ) and not _unmatchable_for_the_app(head, request):
            return None
        etag = head.etag
        if etag is not None:
            etag = self.encoded_etag(etag, coding)
        status = precondition_status(validators, etag, head.last_modified)
        if status is None:
            return None
        return status, validator_answer_headers(status, headers, etag, needs_vary=head.needs_vary)

    def app_not_modified(
        self, request: RequestView, head: ResponseHead, headers: Headers
    ) -> Headers:
        """The head of the app's 304 to a validator we stripped (see
        :func:`~asgi_compress.http._headers.strip_validator_suffixes`): its ETag is the one of the
        representation the client holds, suffixed and weakened as its 200 was."""
        etag = head.etag
        if etag is not None:
            token = held_token(etag, request.stripped)
            if token is not None:
                coding = DCZ if token.startswith(_DCZ_TOKEN) else token.decode("latin-1")
                etag = self.encoded_etag(etag, coding, token)
        return validator_answer_headers(304, headers, etag, needs_vary=head.needs_vary)

    async def whole(self, coding: str, body: bytes, *, cacheable: bool) -> list[Encoded]:
        """The whole body encoded, best first: in ``coding`` (from the response cache when
        ``cacheable`` and it holds it); for dcz also in the ordinary coding, the smaller
        first (dcz goes out only when it beats the ordinary coding, at a second encode's
        CPU). Pass the list to :meth:`store` once the response went out."""
        made = [await self._find_or_encode(coding, body, cacheable=cacheable)]
        if coding == DCZ and self._ordinary is not None:
            ordinary = await self._find_or_encode(self._ordinary, body, cacheable=cacheable)
            dcz, other = made[0].size, ordinary.size
            if other is not None and (dcz is None or other < dcz):
                made.insert(0, ordinary)
            else:
                made.append(ordinary)
        return made

    async def store(self, made: list[Encoded]) -> None:
        """After the response's bytes went out, in the request's task: keep what the cache
        missed (or better bytes, made at the cache level on a worker thread)."""
        cache = self.cache
        if cache is None:
            return
        for item in made:
            if item.found is not None and not item.found.hit:
                await cache.store(item.found, item.encoded)

    async def _find_or_encode(self, coding: str, body: bytes, *, cacheable: bool) -> Encoded:
        cache = self.cache
        found = None
        if cacheable and cache is not None and not self._settings.breach_padding:
            assert self._policy is not None
            dcz = self._dcz
            # A dcz body is only good for its own dictionary: its entry is named by it.
            params = dcz.cache_params if dcz is not None and coding == DCZ else None
            found = await cache.lookup(
                coding, body, params or self._settings.encoders[coding], slot=self._policy.cache_key
            )
            if found.encoded is not None:
                return Encoded(coding, found.encoded, found)
        encoder, prefix, padded = self._new_padded_encoder(coding)
        encoded = prefix + await self.runner_for(coding).run(encoder.finish, body)
        smaller = len(encoded) < len(body)  # padding included: an answer never grows
        return Encoded(coding, encoded if smaller else None, found, padded if smaller else 0)
