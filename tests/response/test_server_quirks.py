"""Servers that bend the ASGI contract (issue 16 item 7): a ``receive`` that returns at once
instead of waiting for the client to leave, and a scope without ``method``. Neither may hang
a response, spin the event loop or crash the request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asgi_compress import CompressMiddleware, ResponsePolicy
from asgi_compress._types import Message, Receive, Scope, Send
from asgi_compress.policy import SCOPE_KEY
from tests.harness import ENCODINGS, app_sending, body, decode, make_scope, run, start, text

DATA = text(700_000)  # more than one file chunk: the watch runs while chunks are encoded
PATHSEND = "http.response.pathsend"


class EagerReceive:
    """A ``receive`` that never suspends: it returns ``message`` on every call, at once.

    ``limit`` calls are a hang guard, not a measure: a loop that awaits this without ever
    yielding would otherwise never let ``anyio.fail_after`` fire, and the test would hang
    instead of failing.
    """

    def __init__(self, message: Message, limit: int) -> None:
        self.message = message
        self.limit = limit
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(f"receive() called {self.calls} times: the watch spins")
        return dict(self.message)


def file_app(tmp_path: Path) -> Any:
    path = tmp_path / "big.txt"
    path.write_bytes(DATA)
    return app_sending([start(content_length=len(DATA)), {"type": PATHSEND, "path": str(path)}])


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_receive_that_returns_the_final_request_at_once_does_not_spin(
    tmp_path: Path, encoding: str
) -> None:
    """After the request's last body message a server's receive waits for the disconnect
    (ASGI HTTP spec); one that keeps returning ``http.request`` at once used to spin the
    pathsend watch, which never yielded, so the file was never read."""
    receive = EagerReceive({"type": "http.request", "body": b"", "more_body": False}, 1000)
    scope = make_scope(accept_encoding=encoding, extensions={PATHSEND: {}})
    rec = await run(CompressMiddleware(file_app(tmp_path)), scope, receive=receive)
    assert rec.headers["content-encoding"] == encoding
    assert rec.bodies[-1]["more_body"] is False
    assert decode(encoding, rec.body) == DATA


async def test_a_receive_that_streams_empty_chunks_at_once_lets_the_file_be_sent(
    tmp_path: Path,
) -> None:
    """A request body of endless empty chunks, each returned at once: the watch reads them
    (the app does not), yielding between them, so the file's encoding goes on and ends it."""
    receive = EagerReceive({"type": "http.request", "body": b"", "more_body": True}, 10**6)
    scope = make_scope(accept_encoding="br", extensions={PATHSEND: {}})
    rec = await run(CompressMiddleware(file_app(tmp_path)), scope, receive=receive)
    assert decode("br", rec.body) == DATA


# -- a scope without "method" -----------------------------------------------------------


def without_method(scope: Scope) -> Scope:
    del scope["method"]
    return scope


async def test_a_scope_without_method_is_a_get() -> None:
    page = text(5000)
    app = CompressMiddleware(app_sending([start(), body(page)]))
    rec = await run(app, without_method(make_scope(accept_encoding="gzip")))
    assert decode("gzip", rec.body) == page


async def test_a_scope_without_method_gets_a_gets_conditional_answer() -> None:
    """Treated as GET, its preconditions are ours to answer (RFC 9110 section 13.2.1)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        policy = scope[SCOPE_KEY]
        assert isinstance(policy, ResponsePolicy)
        policy.evaluate_conditional = True
        await send(start(headers=[("etag", '"v"')]))
        await send(body(text(5000)))

    scope = make_scope(headers=[("if-none-match", '"v:br"')], accept_encoding="br")
    rec = await run(CompressMiddleware(app, cache=None), without_method(scope))
    assert (rec.status, rec.headers["etag"], rec.body) == (304, '"v:br"', b"")
