"""The scripted ASGI server: drive an app with a request and record what it sends.

``run(app, ...)`` returns a :class:`Recorded` with every message the middleware sent, in
order. The server's side of the request is a :class:`Client`: what ``receive()`` returns (the
request body, then ``http.disconnect`` once the client has gone) and what ``send()`` does (yield
to the loop, fail at the n-th message, drop messages after a disconnect, as servers do); a test
passes ``client=Client(...)`` instead of writing its own closures, or, for a one-off, plain
``receive=`` / ``send=`` callables. ``app_sending``, ``start`` and ``body`` build the app side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel

from asgi_compress._types import ASGIApp, Message, Receive, Scope, Send
from asgi_compress.policy import SCOPE_KEY, ResponsePolicy

from .codings import decode


@dataclass
class Recorded:
    messages: list[Message] = field(default_factory=list)
    app_scope: Scope | None = None

    @property
    def start(self) -> Message:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        return starts[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> dict[str, str]:
        """Headers by lowercase name; repeated names joined with ", "."""
        result: dict[str, str] = {}
        for name, value in self.start["headers"]:
            key = name.decode().lower()
            result[key] = f"{result[key]}, {value.decode()}" if key in result else value.decode()
        return result

    def header_lines(self, name: str) -> list[str]:
        return [v.decode() for n, v in self.start["headers"] if n.decode().lower() == name]

    @property
    def bodies(self) -> list[Message]:
        return [m for m in self.messages if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.bodies)

    def decoded(self) -> bytes:
        encoding = self.headers.get("content-encoding")
        return decode(encoding, self.body) if encoding else self.body


def make_scope(
    *,
    method: str = "GET",
    path: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    accept_encoding: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> Scope:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if accept_encoding is not None:
        raw.append((b"accept-encoding", accept_encoding.encode("latin-1")))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class Client:
    """The server's side of one request, scripted: what ``receive()`` and ``send()`` do.

    ``receive()`` returns the request (``body``) once; after that it waits until the client
    has gone or the response is complete (its last body message delivered), then returns
    ``http.disconnect``, every time it is called (ASGI HTTP spec: "if receive is called after
    a response has been sent or after the HTTP connection has been closed"; Quart 0.23 waits
    for it before its app call returns).
    ``send()`` records each message it delivers in ``recorded``, in order.

    Args:
        body: the request body, in one ``http.request`` message.
        yields: ``send()`` yields to the event loop before delivering (most servers do
            when their write buffer is full; the default, ``False``, is the case where
            they never do).
        leave_after: the client goes away once this many messages have been delivered:
            ``receive()`` then returns ``http.disconnect``, and later messages are dropped
            silently, as uvicorn does.
        fail_at: ``send()`` raises ``error`` instead of delivering the message with this
            index (0 is the first message), and every message after it (ASGI 2.4: a
            server may raise ``OSError`` once the client has gone).
        error: what ``send()`` raises from ``fail_at`` on.
    """

    def __init__(
        self,
        *,
        body: bytes = b"",
        yields: bool = False,
        leave_after: int | None = None,
        fail_at: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        if (fail_at is None) != (error is None):
            raise ValueError("fail_at and error go together")
        self.body = body
        self.yields = yields
        self.leave_after = leave_after
        self.fail_at = fail_at
        self.error = error
        self.recorded = Recorded()
        self.on_send: Callable[[Message], Any] | None = None
        self._requested = False
        self._left = leave_after is not None and leave_after <= 0
        self._complete = False
        self._disconnect: anyio.Event | None = None

    @property
    def delivered(self) -> list[Message]:
        return self.recorded.messages

    def _disconnect_event(self) -> anyio.Event:
        """Set once ``receive()`` returns ``http.disconnect``: the client left or the response
        is complete."""
        if self._disconnect is None:  # made on first use: an anyio Event needs a running loop
            self._disconnect = anyio.Event()
            if self._left or self._complete:
                self._disconnect.set()
        return self._disconnect

    def _end(self) -> None:
        if self._disconnect is not None:
            self._disconnect.set()

    @property
    def gone(self) -> bool:
        return self._left

    def leave(self) -> None:
        """The client goes away now: ``receive()`` returns ``http.disconnect``."""
        self._left = True
        self._end()

    async def receive(self) -> Message:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._disconnect_event().wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.yields:
            await anyio.lowlevel.checkpoint()
        if self.error is not None and len(self.delivered) >= (self.fail_at or 0):
            raise self.error
        if self.gone:
            return  # uvicorn drops what is sent after a disconnect
        self.delivered.append(message)
        if self.on_send is not None:
            self.on_send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._complete = True
            self._end()
        if self.leave_after is not None and len(self.delivered) >= self.leave_after:
            self.leave()


async def run(
    app: ASGIApp,
    scope: Scope | None = None,
    *,
    client: Client | None = None,
    receive: Receive | None = None,
    send: Send | None = None,
    on_send: Callable[[Message], Any] | None = None,
    deadline: float = 5,
    **scope_kwargs: Any,
) -> Recorded:
    """Call ``app`` once; record every message it sends. Never hangs: ``fail_after``.

    Args:
        client: the server's side (default: a plain ``Client()``); what it delivered is
            returned, and stays in ``client.recorded`` when the app raises.
        receive: replaces ``client.receive`` (for a one-off script).
        send: awaited with each message before the client records it (for a one-off
            script: it may raise, or wait).
        on_send: called with each message the client delivers.
        deadline: seconds before the call fails as hung.
        scope_kwargs: for ``make_scope`` when ``scope`` is not given.
    """
    client = client if client is not None else Client()
    if on_send is not None:
        client.on_send = on_send
    scope = scope if scope is not None else make_scope(**scope_kwargs)

    async def deliver(message: Message) -> None:
        if send is not None:
            await send(message)
        await client.send(message)

    with anyio.fail_after(deadline):
        await app(scope, receive if receive is not None else client.receive, deliver)
    return client.recorded


def app_sending(
    messages: Sequence[Message], *, record_scope: Recorded | None = None, **policy: Any
) -> ASGIApp:
    """A raw ASGI app that sends exactly ``messages``.

    Args:
        record_scope: keeps the scope the app was called with, in ``app_scope``.
        policy: attributes the app sets on its :class:`ResponsePolicy` first, as a framework
            extension does (``evaluate_conditional=True``: the Quart extension's default).
    """

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if record_scope is not None:
            record_scope.app_scope = scope
        if policy:
            response_policy = scope[SCOPE_KEY]
            assert isinstance(response_policy, ResponsePolicy)
            for key, value in policy.items():
                setattr(response_policy, key, value)
        for message in messages:
            await send(dict(message))

    return app


def start(
    status: int = 200,
    content_type: str | None = "text/plain",
    headers: Iterable[tuple[str, str]] = (),
    content_length: int | None = None,
    **extra: Any,
) -> Message:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if content_type is not None:
        raw.append((b"content-type", content_type.encode()))
    if content_length is not None:
        raw.append((b"content-length", str(content_length).encode()))
    return {"type": "http.response.start", "status": status, "headers": raw, **extra}


def body(data: bytes = b"", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}
